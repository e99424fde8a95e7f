"""The admin console's service list: the shared list over the whole store, with marks and the actions on them."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.widgets import Static

from svcconsole.console.actions import applies, bindings, mutating_actions
from svcconsole.console.messages import ActionRequested, BulkMenuRequested, CustomerOpened, EditRequested, MenuCounted, NewServiceRequested, SelectionResolved
from svcconsole.console.screens.admin_list import AdminServiceList
from svcconsole.console.selection import Marks, resolve, status_counts
from svcconsole.console.why import why_not
from svcconsole.core.bulk import Matching
from svcconsole.widgets import render
from svcconsole.widgets.inputs import InertInput as Input
from svcconsole.widgets.messages import ReadOnlyRefused


def marked_label(count: int) -> str:
    return f"{count:,} marked service{'s' if count != 1 else ''}"


def cursor_label(service_id: int | None, name: str) -> str:
    """The service under the cursor, as a dialog names it: 'service 12 'web''."""
    return f"service {service_id} {name!r}" if name else f"service {service_id}"


SELECTION_ACTIONS = frozenset({"toggle_mark", "mark_all", "service_action", "bulk_menu", "edit_service"})
"""The keys that mark rows or act on them: off while the list is not the filter line's."""


class ServicesScreen(AdminServiceList):
    """The admin's list over the whole store, with marks and the actions on them."""

    BINDINGS = bindings("services")
    SCOPE = "services"
    MUTATING = mutating_actions(["services"])
    FILTER_PLACEHOLDER = "filter: text status:active product:NAME server: customer: cycle: expires<7d"

    def __init__(self) -> None:
        super().__init__()
        self.marks = Marks()

    def why_key_did_nothing(self, key: str, status: str | None) -> str | None:
        return why_not(self, "services", key, status)

    def _is_marked(self, service_id: int) -> bool:
        return self.marks.is_marked(service_id, self.current_filter)

    def _has_marks(self) -> bool:
        return bool(self.marks)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """With no marks, a service action shows only when the row under the cursor is in a
        status it can start from; marking and actions are off while the filter line is invalid."""
        if self.is_mounted and action in SELECTION_ACTIONS and self.console_app.can_act and not self.list_matches_filter():
            return False
        if self.is_mounted and self.console_app.can_act and action == "service_action" and parameters and not self.marks:
            row = self.table.current_row()
            return row is not None and applies(str(parameters[0]), row.status)
        return super().check_action(action, parameters)

    def _render_title(self) -> None:
        app = self.console_app
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(" svcconsole ", "bold reverse")
        line.append(" services ", "bold")
        line.append(render.plain(app.actor.name), "cyan")
        line.append(f" ({app.actor.role.label})", "dim")
        line.append(f"  {render.plain(app.database_label)}", "dim")
        if app.read_only:
            line.append("  READ-ONLY: actions are off", "bold red")
        problems = app.health_problems
        if problems:
            line.append(f"  ! health: {problems} problem{'s' if problems != 1 else ''} (H)", "bold red")
        self.query_one("#title", Static).update(line)

    def _status_marks(self, line: Text) -> None:
        if not self.marks:
            return
        line.append(" · ", "dim")
        if self.filter_error is not None:
            line.append(f"{self.marks.count:,} marked under another filter (actions off)", "yellow")
            return
        if self.marks.all_filter is not None:
            line.append(f"{self.marks.count:,} marked (all matching)", "bold yellow")
            if self.marks.all_filter != self.current_filter:
                line.append(" by an earlier filter", "yellow")
        else:
            line.append(f"{self.marks.count:,} marked", "bold yellow")

    def _total_known(self, total: int) -> None:
        self.marks.set_all_count(self.current_filter, total)

    def action_clear(self) -> None:
        """Clear the marks, unless the filter is being typed in; else the filter."""
        if self.marks and not self.query_one("#filter", Input).has_focus:
            self.marks.clear()
            self.table.refresh()
            self._render_status()
            self.notify("marks cleared", timeout=2)
            return
        super().action_clear()

    # ------------------------------------------------------------------ marks

    def refuse_unsettled_filter(self) -> bool:
        """Say why marking and actions are off while the filter is invalid or still applied; True when they are."""
        if self.list_matches_filter():
            return False
        if self.filter_error is not None:
            self.notify(f"the filter is invalid ({render.plain(self.filter_error)}): fix or clear it (esc) first", severity="warning", markup=False)
        else:
            self.notify("the filter is still being applied; try again in a moment", severity="warning")
        return True

    def action_toggle_mark(self) -> None:
        if self.refuse_unsettled_filter():
            return
        row = self.table.current_row()
        if row is None:
            return
        if self.marks.all_filter is not None and self.marks.all_filter != self.current_filter:
            self.notify("a mark-all made under another filter is active: esc clears it first", severity="warning")
            return
        self.marks.toggle(row.id, self.current_filter)
        self.table.action_cursor_down()
        self.table.refresh()
        self._render_status()

    def action_mark_all(self) -> None:
        if self.refuse_unsettled_filter():
            return
        if self.total is None:
            self.notify("still counting; try again in a moment", severity="warning")
            return
        self.marks.mark_all(self.current_filter, self.total)
        self.table.refresh()
        self._render_status()
        self.notify(f"{self.marks.count:,} services marked (every row matching the filter)", timeout=3)

    # ------------------------------------------------------------------ edit, new

    def action_edit_service(self) -> None:
        if self.refuse_unsettled_filter():
            return
        row = self.table.current_row()
        if row is not None:
            self.post_message(EditRequested(row.id))

    def action_open_customer(self) -> None:
        row = self.table.current_row()
        if row is not None:
            self.post_message(CustomerOpened(row.customer_id))

    def action_new_service(self) -> None:
        self.post_message(NewServiceRequested())

    # ------------------------------------------------------------------ actions

    def _can_start_action(self) -> bool:
        """Whether an action may start from the list now: else says why (read-only, an unsettled filter, nothing to act on)."""
        if not self.console_app.can_act:
            self.post_message(ReadOnlyRefused())
            return False
        if self.refuse_unsettled_filter():
            return False
        if not self.marks and self.table.current_row() is None:
            self.notify("no service under the cursor", severity="warning")
            return False
        return True

    def action_service_action(self, name: str) -> None:
        if not self._can_start_action():
            return
        row = self.table.current_row()
        if self.marks.all_filter is not None and self.marks.all_filter == self.current_filter:
            count = self.marks.count
            matching = Matching(self.current_filter, frozenset(self.marks.excluded))
            self.post_message(SelectionResolved(name, None, count, 0, True, marked_label(count), matching))
            return
        self._resolve_selection(name, row.id if row is not None else None, render.plain(row.name) if row is not None else "")

    @work(thread=True, exclusive=True, group="list-selection")
    def _resolve_selection(self, name: str, cursor_id: int | None, cursor_name: str) -> None:
        with self.console_app.db.read() as session:
            resolved = resolve(session, self.marks, self.current_filter, cursor_id)
        label = marked_label(resolved.count) if resolved.marked else cursor_label(cursor_id, cursor_name)
        self.post_message(SelectionResolved(name, resolved.ids, resolved.count, resolved.hidden, resolved.marked, label, resolved.matching))

    @on(SelectionResolved)
    def _selection_resolved(self, message: SelectionResolved) -> None:
        if message.count == 0:
            self.notify("nothing to act on", severity="warning")
            return
        self.post_message(ActionRequested(message, on_done=self._after_action))

    def action_bulk_menu(self) -> None:
        if not self._can_start_action():
            return
        row = self.table.current_row()
        if self.marks:
            label = marked_label(self.marks.count)
        else:
            assert row is not None
            label = cursor_label(row.id, render.plain(row.name))
        self._count_menu(label, row.id if row is not None else None)

    @work(thread=True, exclusive=True, group="list-menu")
    def _count_menu(self, label: str, cursor_id: int | None) -> None:
        with self.console_app.db.read() as session:
            counts = status_counts(session, self.marks, cursor_id)
        self.post_message(MenuCounted(label, counts))

    @on(MenuCounted)
    def _menu_counted(self, message: MenuCounted) -> None:
        self.post_message(BulkMenuRequested(self.action_service_action, message.label, message.counts))

    def _after_action(self, clear_marks: bool) -> None:
        if clear_marks:
            self.marks.clear()
        self.reload(keep_position=True)
