"""The Options tab's pick from the product's catalogue: a choice (or an option taken by quantity),
added through core's `add-option` action in a worker, with the module job it queues run at once
as the CLI does; a refusal is the screen's error line."""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Select

from svcconsole.console.host import ConsoleHost
from svcconsole.console.messages import ActionFailed, ServiceSaved
from svcconsole.core import actions, jobs
from svcconsole.core.errors import SvcError
from svcconsole.widgets.inputs import PaneInput
from svcconsole.widgets.messages import ReadOnlyRefused


def catalogue_entries(catalogue: list[Any]) -> list[tuple[str, str]]:
    """(label, NAME=VALUE) for each choice; an option taken by quantity ends in `=`, its quantity typed beside."""
    entries: list[tuple[str, str]] = []
    for option in catalogue:
        if option.choices:
            entries += [(f"{option.name} = {choice['value']} · {choice['price']}", f"{option.name}={choice['value']}") for choice in option.choices]
        else:
            entries.append((f"{option.name} × {option.minimum}-{option.maximum} · {option.unit_price:.2f} each", f"{option.name}="))
    return entries


def add_from_catalogue(db: Any, actor: Any, service_id: int, chosen: str) -> ServiceSaved | ActionFailed:
    """Add the option through core and run the module job it queued (in a worker thread)."""
    try:
        outcome = db.transaction(lambda session: actions.perform(session, actor, "add-option", service_id, {"option": chosen}))
    except SvcError as error:
        return ActionFailed(error.message)
    text = outcome.message
    if outcome.job_id is not None:
        for ran in jobs.run_jobs(db, [outcome.job_id]):
            if ran.status != "succeeded":
                return ActionFailed(f"option {chosen}: the panel did not apply it ({ran.status}): {ran.message}")
            text = ran.message
    return ServiceSaved(f"option {chosen}: {text}")


def remove_option(db: Any, actor: Any, service_id: int, option_id: int) -> ServiceSaved | ActionFailed:
    """Remove the option through core and run the job that takes it off the panel, if one was queued."""
    try:
        outcome = db.transaction(lambda session: actions.remove_option(session, actor, service_id, option_id))
    except SvcError as error:
        return ActionFailed(error.message)
    for ran in jobs.run_jobs(db, [outcome.job_id] if outcome.job_id is not None else []):
        if ran.status != "succeeded":
            return ActionFailed(f"option {option_id} removed from billing; the panel did not shrink ({ran.status}): {ran.message}")
    return ServiceSaved(outcome.message)


class CataloguePicker(Horizontal):
    """A choice from the product's option catalogue, a quantity, and the button that adds it."""

    def __init__(self, service_id: int, **options: Any) -> None:
        super().__init__(**options)
        self.service_id = service_id

    @property
    def console_app(self) -> ConsoleHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this widget runs in the console

    def compose(self) -> ComposeResult:
        yield Select([], prompt="the product offers no option", compact=True, id="catalogue-option")
        yield PaneInput("1", placeholder="qty", id="catalogue-quantity", restrict=r"\d*")
        yield Button("Add from catalogue", id="catalogue-add")

    def show(self, catalogue: list[Any]) -> None:
        """Offer the catalogue's entries (the first chosen), keeping the choice made when it is still offered."""
        select = self.query_one("#catalogue-option", Select)
        entries = catalogue_entries(catalogue)
        kept = select.value
        select.set_options(entries)
        select.prompt = "a choice from the catalogue" if entries else "the product offers no option"
        values = [value for _, value in entries]
        if values:
            select.value = kept if kept in values else values[0]

    def chosen(self) -> str | None:
        """NAME=VALUE for the entry picked (a quantity's value from the field beside it)."""
        value = self.query_one("#catalogue-option", Select).value
        if not isinstance(value, str):
            return None
        return value + (self.query_one("#catalogue-quantity", PaneInput).value or "1") if value.endswith("=") else value

    @on(Button.Pressed, "#catalogue-add")
    def _add(self, event: Button.Pressed) -> None:
        event.stop()
        if not self.console_app.can_act:
            self.post_message(ReadOnlyRefused())
            return
        chosen = self.chosen()
        if chosen is None:
            self.post_message(ActionFailed("--option: the product offers no option to choose"))
            return
        self._run(chosen)

    @work(thread=True, exclusive=True, group="catalogue-add")
    def _run(self, chosen: str) -> None:
        app = self.console_app
        self.post_message(add_from_catalogue(app.db, app.actor, self.service_id, chosen))
