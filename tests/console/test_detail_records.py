"""Issue 23 items 6, 7 and 10 in the detail: the renewal limit in force and where it comes from,
a status set through edit leaving a coherent record, and the metadata editor's known keys."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func
from sqlmodel import select

from svcconsole.console.screens.detail import DetailScreen
from svcconsole.console.screens.edit import EditScreen
from svcconsole.core import actions, lookups, records, seed
from svcconsole.store.models import Renewal, Service
from tests.conftest import new_service
from tests.console.conftest import make_app, notifications, settle

pytestmark = pytest.mark.anyio


def plain(renderable) -> str:  # type: ignore[no-untyped-def]
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def overview_line(screen, key: str) -> str:  # type: ignore[no-untyped-def]
    for line in plain(screen.query_one("#overview-body").content).splitlines():
        if line.strip().startswith(key):
            return " ".join(line.split())
    raise AssertionError(f"no {key!r} line in the overview")


async def test_the_overview_and_edit_show_the_metadata_renewal_limit_in_force(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    target = new_service(db, admin, catalog, name="shop", status="active")
    db.transaction(lambda session: records.meta_set(session, admin, target, "max_renewals", "3"))
    db.transaction(lambda session: records.meta_set(session, admin, target, "max_renewals_in_current_month", "1"))
    db.transaction(lambda session: actions.perform(session, admin, "renew", target, {"cycles": 1}))
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        app.open_service(target)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        line = overview_line(screen, "renewals")
        assert "1 of 3 (metadata max_renewals)" in line, line
        assert "1 of 1 this month (metadata max_renewals_in_current_month)" in line, line
        assert "unlimited" not in line
        assert screen.query_one("#renewals-table").row_count == 1
        await pilot.press("e")
        await settle(pilot)
        edit = app.screen
        assert isinstance(edit, EditScreen)
        field = edit.query_one("#field-max_renewals")
        assert field.value == ""
        assert "max_renewals=3" in field.placeholder and "metadata" in field.placeholder


async def test_without_limits_the_overview_says_unlimited(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    target = new_service(db, admin, catalog, name="shop", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        app.open_service(target)
        await settle(pilot)
        assert overview_line(app.screen, "renewals").endswith("0 of unlimited")


def test_the_demo_counts_only_the_renewals_its_renewals_tab_lists(db, frozen):  # type: ignore[no-untyped-def]
    seed.seed_demo(db, services=400, random_seed=3)
    with db.read() as session:
        recorded = dict(session.execute(select(Renewal.service_id, func.count()).group_by(Renewal.service_id)).all())
        counted = dict(session.execute(select(Service.id, Service.renewals)).all())
    assert any(counted.values()), "the demo has renewals"
    mismatched = {service_id: (count, recorded.get(service_id, 0)) for service_id, count in counted.items() if count != recorded.get(service_id, 0)}
    assert mismatched == {}


def meta_value(db, service_id: int, key: str) -> str | None:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return {item.key: item.value for item in records.meta_items(session, service_id)}.get(key)


async def test_the_metadata_editor_offers_known_keys_validates_them_and_warns_on_unknown_ones(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    target = new_service(db, admin, catalog, name="shop", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_service(target)
        await settle(pilot)
        screen = app.screen
        screen.query_one("#tabs").active = "metadata"
        await settle(pilot)
        hint = screen.query_one("#meta-hint")
        shown = plain(hint.content)
        assert all(key in shown for key in lookups.KNOWN_META_KEYS) and "maximum number of renewals" in shown

        screen.query_one("#meta-key").focus()
        await pilot.press(*"max_renewals_in_current_w")
        await pilot.press("right")
        assert screen.query_one("#meta-key").value == "max_renewals_in_current_week", "the known key was not offered"
        assert "maximum renewals in the current week" in plain(hint.content)

        screen.query_one("#meta-key").value = "max_renewals"
        screen.query_one("#meta-value").value = "abc"
        screen.query_one("#meta-set").press()
        await settle(pilot)
        assert meta_value(db, target, "max_renewals") is None
        assert any("max_renewals" in message and "abc" in message for _, message in notifications(app))

        screen.query_one("#meta-key").value = "maxx_renewals"
        await settle(pilot)
        assert "warning" in plain(hint.content) and "did you mean max_renewals" in plain(hint.content)
        screen.query_one("#meta-value").value = "abc"
        screen.query_one("#meta-set").press()
        await settle(pilot)
        assert meta_value(db, target, "maxx_renewals") == "abc", "an unknown key is warned about, not refused"
        warnings = [message for severity, message in notifications(app) if severity == "warning"]
        assert any("maxx_renewals" in message and "did you mean max_renewals" in message for message in warnings), warnings


async def test_a_status_set_through_edit_leaves_a_coherent_suspension_record(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    target = new_service(db, admin, catalog, name="shop", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_service(target)
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        edit = app.screen
        assert isinstance(edit, EditScreen)
        edit.query_one("#field-status").value = "suspended"
        edit.query_one("#reason").value = "chargeback under review"
        await pilot.press("ctrl+s")
        await settle(pilot)
        with db.read() as session:
            service = lookups.get_service(session, target)
            assert (service.status, service.suspend_kind, service.suspend_reason) == ("suspended", "admin", "chargeback under review")
            assert service.suspended_at == frozen
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        line = overview_line(detail, "suspension")
        assert "admin: chargeback under review (since 2026-11-21)" in line and "None" not in line, line

    db.transaction(lambda session: records.edit_service(session, admin, target, {"status": "active"}, reason="review done"))
    with db.read() as session:
        service = lookups.get_service(session, target)
        assert (service.status, service.suspend_kind, service.suspend_reason, service.suspended_at) == ("active", None, None, None)
