"""The Login dialog: the credentials a module provisioned for a service (`L` on its detail).

Opening it reads the login through `core.credentials.show` (admins only; the view is logged),
in a worker. The password stays masked until `v` reveals it; `R` sets a new one on the panel
(`core.credentials.reset`, after a yes/no question), as `services credentials ID --reset` does.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from svcconsole.console.actions import bindings
from svcconsole.console.host import ConsoleHost
from svcconsole.core import credentials
from svcconsole.core.credentials import ShownLogin
from svcconsole.core.errors import SvcError
from svcconsole.widgets import render, words
from svcconsole.widgets.dialogs import ConfirmDialog

MASK = "••••••••••"


@dataclass
class LoginRead(Message):
    """The login was read (or reset), or could not be: `error`."""

    shown: ShownLogin | None
    error: str | None = None
    reset: bool = False


class CredentialsDialog(ModalScreen[None]):
    """Username and (masked) password of one service, with reveal and reset."""

    BINDINGS = bindings("credentials")

    def __init__(self, service_id: int, label: str) -> None:
        super().__init__(classes="dialog-screen")
        self.service_id = service_id
        self.label = label
        self.shown: ShownLogin | None = None
        self.revealed = False

    @property
    def console_app(self) -> ConsoleHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in its own app

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="credentials-dialog"):
            yield Static(Text(f"Login of {render.plain(self.label)}", style="bold"), id="question")
            yield Static(Text("What the module provisioned on the panel. Each view is logged; v reveals the password.", style="dim"), id="consequence")
            yield Static(Text("reading…", style="dim"), id="login")
            yield Static(id="dialog-error")
            with Horizontal(classes="buttons"):
                yield Button("Back", id="cancel-button")
                yield Button("Reveal", id="reveal-button")
                yield Button("Reset password", id="reset-button", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#dialog-error", Static).display = False
        self.query_one("#cancel-button", Button).focus()
        self._read()

    @work(thread=True, exclusive=True, group="credentials")
    def _read(self) -> None:
        app = self.console_app
        try:
            shown = app.db.transaction(lambda session: credentials.show(session, app.actor, self.service_id))
        except SvcError as error:
            self.post_message(LoginRead(None, error.message))
            return
        self.post_message(LoginRead(shown))

    @work(thread=True, exclusive=True, group="credentials")
    def _reset(self) -> None:
        app = self.console_app
        try:
            shown = credentials.reset(app.db, app.actor, self.service_id, reason="reset from the console")
        except SvcError as error:
            self.post_message(LoginRead(self.shown, error.message))
            return
        self.post_message(LoginRead(shown, reset=True))

    @on(LoginRead)
    def _login_read(self, message: LoginRead) -> None:
        self.shown = message.shown
        error = self.query_one("#dialog-error", Static)
        error.display = bool(message.error)
        if message.error:
            error.update(Text(render.plain(words.console_text(message.error)), style="bold red"))
        if message.reset:
            self.revealed = False
            self.app.notify(f"service {self.service_id}: new password set on the panel; the customer is mailed", markup=False)
        self._draw()

    def _draw(self) -> None:
        shown = self.shown
        if shown is None:
            self.query_one("#login", Static).update(Text("no login to show", style="dim"))
            return
        password = shown.login.password
        line = Text()
        line.append("username  ", "dim")
        line.append(render.plain(shown.login.username), "bold")
        line.append("\npassword  ", "dim")
        if password is None:
            line.append("not known: reset it to set one", "italic")
        else:
            line.append(render.plain(password) if self.revealed else MASK, "bold")
        if shown.shared_with:
            line.append(f"\nthe same login of services {', '.join(str(other) for other in shown.shared_with)} was updated too", "dim")
        self.query_one("#login", Static).update(line)

    def action_reveal(self) -> None:
        self.revealed = not self.revealed
        self._draw()

    def action_reset(self) -> None:
        if not self.console_app.can_act:
            self.app.notify("read-only: the password cannot be reset", severity="error", markup=False)
            return
        from_screen = self

        def answered(yes: bool | None) -> None:
            if yes:
                from_screen._reset()

        self.app.push_screen(
            ConfirmDialog(
                "Set a new password on the panel?",
                "Reset",
                detail="The current one stops working at once (at the next boot for a VM); the customer is mailed.",
                variant="warning",
            ),
            answered,
        )

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel-button")
    def _back(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#reveal-button")
    def _reveal_pressed(self) -> None:
        self.action_reveal()

    @on(Button.Pressed, "#reset-button")
    def _reset_pressed(self) -> None:
        self.action_reset()
