"""Editing a service's fields; a status change asks for a reason; a concurrent change is refused.

The form remembers the version it was read at and saves with `expected_version`, so a save
after another admin's change fails with their name (core's `Conflict`) and the form reloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Label, Select, Static

from svcconsole.console.actions import bindings
from svcconsole.console.host import ConsoleHost
from svcconsole.console.messages import ActionFailed, ServiceLoaded, ServiceSaved
from svcconsole.core import lookups, records, renewal_limits
from svcconsole.core.cycles import BillingCycle
from svcconsole.core.errors import Conflict, SvcError
from svcconsole.core.statuses import Status
from svcconsole.modules import module_names
from svcconsole.widgets import render, words
from svcconsole.widgets.inputs import InertInput as Input
from svcconsole.widgets.messages import ErrorRaised

TEXT_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "Name"),
    ("domain", "Domain"),
    ("expires_at", "Expiration"),
    ("price", "Price"),
    ("initial_price", "Initial price"),
    ("server", "Server"),
    ("max_renewals", "Max renewals"),
    ("currency", "Currency"),
    ("description", "Description"),
    ("notes", "Notes"),
)


def form_values(service: Any, tz: Any) -> dict[str, str]:
    """The service's editable fields as the form shows them."""
    return {
        "name": service.name,
        "domain": service.domain or "",
        "expires_at": render.day(service.expires_at, tz) if service.expires_at else "",
        "price": f"{service.price:.2f}",
        "initial_price": f"{service.initial_price:.2f}",
        "server": service.server_name or "",
        "max_renewals": "" if service.max_renewals is None else str(service.max_renewals),
        "currency": service.currency,
        "description": service.description or "",
        "notes": service.notes or "",
        "billing_cycle": service.billing_cycle,
        "type": service.type,
        "status": service.status,
        "auto_renew": "true" if service.auto_renew else "false",
    }


def max_renewals_hint(metadata_limits: list[renewal_limits.RenewalLimit]) -> str:
    """What an empty Max renewals field means: unlimited, unless metadata sets a limit."""
    if not metadata_limits:
        return "empty: unlimited"
    shown = ", ".join(f"{limit.key}={limit.limit}" for limit in metadata_limits)
    return f"empty here; in force from metadata: {shown}"


@dataclass
class EditConflicted(Message):
    """The save was refused: someone changed the service since the form was read."""

    error: str


class EditScreen(Screen[None]):
    """The fields of one service, saved through `core.records.edit_service`."""

    BINDINGS = bindings("edit")

    def __init__(self, service_id: int) -> None:
        super().__init__()
        self.service_id = service_id
        self.version: int | None = None
        self.original: dict[str, str] = {}
        self.metadata_limits: list[renewal_limits.RenewalLimit] = []

    @property
    def console_app(self) -> ConsoleHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in its own app

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Edit service {self.service_id}", style="bold"), id="edit-title")
        with VerticalScroll(classes="form", id="edit-form"):
            for key, title in TEXT_FIELDS:
                with Horizontal(classes="row"):
                    yield Label(title)
                    yield Input(id=f"field-{key}")
            with Horizontal(classes="row"):
                yield Label("Cycle")
                yield Select([(cycle.value, cycle.value) for cycle in BillingCycle], allow_blank=False, compact=True, id="field-billing_cycle")
            with Horizontal(classes="row"):
                yield Label("Type")
                yield Select([(name, name) for name in module_names()], allow_blank=False, compact=True, id="field-type")
            with Horizontal(classes="row"):
                yield Label("Auto renew")
                yield Select([("on", "true"), ("off", "false")], allow_blank=False, compact=True, id="field-auto_renew")
            with Horizontal(classes="row"):
                yield Label("Status")
                yield Select([(status.value, status.value) for status in Status], allow_blank=False, compact=True, id="field-status")
            with Horizontal(classes="row"):
                yield Label("Reason")
                yield Input(placeholder="required when the status changes (prefer the actions)", id="reason")
        yield Static(id="form-error", classes="form-error")
        with Horizontal(classes="buttons"):
            yield Button("Cancel", id="cancel-button")
            yield Button("Save", id="save", variant="primary")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#form-error", Static).display = False
        self._load()

    @work(thread=True, exclusive=True, group="edit-load")
    def _load(self) -> None:
        try:
            with self.console_app.db.read() as session:
                service = lookups.get_service(session, self.service_id)
                limits = renewal_limits.limits_in_force(session, service, lookups.timezone_of(session))
        except SvcError as error:
            self.post_message(ActionFailed(error.message))
            return
        self.metadata_limits = [limit for limit in limits if limit.from_metadata]
        self.post_message(ServiceLoaded(service))

    @on(ServiceLoaded)
    def _loaded(self, message: ServiceLoaded) -> None:
        service = message.detail
        self.version = service.version
        self.original = form_values(service, self.console_app.tz)
        types = sorted(set(module_names()) | {service.type})
        self.query_one("#field-type", Select).set_options([(name, name) for name in types])
        for key, value in self.original.items():
            widget = self.query_one(f"#field-{key}")
            widget.value = value  # type: ignore[attr-defined]  # every edit field is an Input or a Select, both with .value
        self.query_one("#edit-title", Static).update(
            Text(f"Edit service {service.id} {render.plain(service.name)!r} (version {service.version})", style="bold")
        )
        self.query_one("#field-max_renewals", Input).placeholder = max_renewals_hint(self.metadata_limits)
        self.query_one("#field-name", Input).focus()

    def changes(self) -> dict[str, str | None]:
        """The fields whose text differs from what was loaded."""
        result: dict[str, str | None] = {}
        for key, before in self.original.items():
            value = str(self.query_one(f"#field-{key}").value)  # type: ignore[attr-defined]  # every edit field is an Input or a Select, both with .value
            if value != before:
                result[key] = value
        return result

    def action_save(self) -> None:
        if self.version is None:
            return
        changes = self.changes()
        if not changes:
            self.notify("nothing changed", timeout=2)
            return
        reason = self.query_one("#reason", Input).value.strip() or None
        self._save(changes, self.version, reason)

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @work(thread=True, exclusive=True, group="edit-save")
    def _save(self, changes: dict[str, str | None], version: int, reason: str | None) -> None:
        app = self.console_app
        try:
            changed = app.db.transaction(
                lambda session: records.edit_service(session, app.actor, self.service_id, changes, expected_version=version, reason=reason)
            )
        except Conflict as error:
            self.post_message(EditConflicted(error.message))
            return
        except SvcError as error:
            self.post_message(ActionFailed(error.message))
            return
        self.post_message(ServiceSaved(f"service {self.service_id}: saved {', '.join(changed) or 'nothing'}"))

    @on(EditConflicted)
    def _conflicted(self, message: EditConflicted) -> None:
        self._show_error(message.error)
        self.post_message(ErrorRaised(message.error))
        self._load()

    @on(ActionFailed)
    def _failed(self, message: ActionFailed) -> None:
        message.stop()
        self._show_error(message.error)

    def _show_error(self, error: str) -> None:
        widget = self.query_one("#form-error", Static)
        widget.update(Text(render.plain(words.console_text(error)), style="bold red"))
        widget.display = True

    @on(ServiceSaved)
    def _saved(self, message: ServiceSaved) -> None:
        self.notify(render.plain(message.message), markup=False, timeout=3)
        self.dismiss(None)

    @on(Button.Pressed, "#cancel-button")
    def _cancel(self) -> None:
        self.dismiss(None)

    def action_back(self) -> None:
        self.dismiss(None)
