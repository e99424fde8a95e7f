"""SVG snapshots of the canonical screens (80x24 unless said), on deterministic data.

The data is seeded with a fixed random seed at a frozen time, in UTC, acting as "alice";
inputs do not blink. The SVGs live in the top-level snapshots/ folder.
"""

from __future__ import annotations

import pytest
from sqlmodel import select
from textual.widgets import Input

from svcconsole.core import actions, bulk, records
from svcconsole.core import catalog as catalog_module
from svcconsole.modules.base import Module, ModuleError, register, unregister
from svcconsole.modules.sandbox.pterodactyl import ExistingServer
from svcconsole.store.models import Service
from tests.conftest import make_actor
from tests.console.conftest import make_app, settle
from tests.console.test_panel import FAST, ptero  # noqa: F401 - the sandbox panel fixture


class BrokenModule(Module):
    """Fails every suspend, so a run has a failure to show and the queue a failed job."""

    name = "broken"
    supports = frozenset({"suspend"})

    def suspend(self, service):  # type: ignore[no-untyped-def]
        raise ModuleError("panel answered 502 Bad Gateway")


@pytest.fixture
def store(demo):  # type: ignore[no-untyped-def]
    return demo


@pytest.fixture
def alice(store):  # type: ignore[no-untyped-def]
    return make_actor(store, "alice", "admin")


def interact(*keys: str, values: dict[str, str] | None = None, after: tuple[str, ...] = (), quiet: bool = False):  # type: ignore[no-untyped-def]
    """A `run_before` that presses keys, fills fields, presses more keys, and settles (and with
    `quiet`, clears the notifications so no toast covers the shot)."""

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot, rounds=2)
        for selector, value in (values or {}).items():
            pilot.app.screen.query_one(selector).value = value
        for key in after:
            await pilot.press(key)
            await settle(pilot, rounds=2)
        await settle(pilot)
        if quiet:
            pilot.app.clear_notifications()
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause(0.05)

    return run


def first_service(db, **where) -> int:  # type: ignore[no-untyped-def]
    with db.read() as session:
        query = select(Service.id)
        for key, value in where.items():
            query = query.where(getattr(Service, key) == value)
        return session.exec(query.order_by(Service.id)).first()


class TestList:
    def test_list(self, store, alice, snap_compare):
        assert snap_compare(make_app(store, alice), run_before=interact())

    def test_list_wide(self, store, alice, snap_compare):
        assert snap_compare(make_app(store, alice), terminal_size=(150, 30), run_before=interact())

    def test_list_filtered(self, store, alice, snap_compare):
        assert snap_compare(make_app(store, alice), run_before=interact("slash", *"status:suspended cycle:monthly", "enter"))

    def test_filter_error(self, store, alice, snap_compare):
        assert snap_compare(make_app(store, alice), run_before=interact("slash", *"colour:red"))

    def test_marks(self, store, alice, snap_compare):
        assert snap_compare(make_app(store, alice), run_before=interact("space", "down", "space"))

    def test_mark_all(self, store, alice, snap_compare):
        assert snap_compare(
            make_app(store, alice), run_before=interact("right_square_bracket", "right_square_bracket", "right_square_bracket", "ctrl+a", "space", quiet=True)
        )

    def test_columns_scrolled_right(self, store, alice, snap_compare):
        assert snap_compare(make_app(store, alice), run_before=interact("right", "right", "right"))

    def test_deep_jump_sorted_by_expiry(self, store, alice, snap_compare):
        keys = ("o",) * 8 + ("G",)
        assert snap_compare(make_app(store, alice), run_before=interact(*keys))


class TestActionModals:
    @pytest.mark.parametrize("key", ["s", "u", "c", "r", "t", "x", "plus", "minus", "b", "ctrl+t"])
    def test_modal(self, store, alice, snap_compare, key):
        assert snap_compare(make_app(store, alice), run_before=interact("space", "down", "space", key))

    def test_modal_hidden_by_filter(self, store, alice, snap_compare):
        assert snap_compare(make_app(store, alice), run_before=interact("space", "space", "slash", *"status:active", "enter", "x"))

    def test_bulk_result(self, store, alice, snap_compare):
        register(BrokenModule)
        try:
            draft = records.ServiceDraft(customer="1", name="gateway test", type="broken", price="5.00", cycle="monthly", external="x-1")
            broken = store.transaction(lambda session: records.import_service(session, alice, draft).id)
            with store.read() as session:
                fine = session.exec(select(Service.id).where(Service.type == "manual", Service.status == "active").order_by(Service.id).limit(2)).all()
            gone = first_service(store, status="terminated")
            chosen = ",".join(str(identifier) for identifier in (*fine, gone, broken))
            before = interact("slash", *f"id:{chosen}", "enter", "ctrl+a", "s", values={"#reason": "maintenance"})

            async def run(pilot) -> None:  # type: ignore[no-untyped-def]
                await before(pilot)
                await pilot.click("#confirm-button")
                await settle(pilot, rounds=10)
                pilot.app.clear_notifications()
                await pilot.pause(0.05)

            assert snap_compare(make_app(store, alice), run_before=run)
        finally:
            unregister("broken")


class TestDetail:
    @pytest.mark.parametrize("tab", range(7))
    def test_tab(self, store, alice, snap_compare, tab):
        target = first_service(store, type="manual", status="active")
        with store.write() as session:
            records.option_add(session, alice, target, name="Extra IPv4", price="2.00")
            records.meta_set(session, alice, target, "max_renewals", "30")
            actions.perform(session, alice, "renew", target, {"cycles": 1, "reason": "paid by bank transfer"})
            actions.perform(session, alice, "renew-invoice", target, {"cycles": 2, "invoice": "new"})

        async def run(pilot) -> None:  # type: ignore[no-untyped-def]
            await settle(pilot)
            pilot.app.open_service(target)
            await settle(pilot)
            for _ in range(tab):
                await pilot.press("right_square_bracket")
            await settle(pilot)
            for field in pilot.app.screen.query(Input):
                field.cursor_blink = False

        assert snap_compare(make_app(store, alice), run_before=run)

    def test_edit(self, store, alice, snap_compare):
        assert snap_compare(make_app(store, alice), run_before=interact("e"))


class TestWizard:
    def test_step_one(self, store, alice, snap_compare):
        assert snap_compare(make_app(store, alice), run_before=interact("n"))

    def test_step_two(self, store, alice, snap_compare):
        assert snap_compare(make_app(store, alice), run_before=interact("n", values={"#customer": "3", "#product": "1"}, after=("enter",)))

    def test_import_lists_the_panel_resources(self, store, alice, snap_compare, ptero):
        def panel_server(session):  # type: ignore[no-untyped-def]
            server = catalog_module.add_server(
                session, alice, name="ptero-sandbox", module="pterodactyl", url=ptero.url, credentials=ptero.credentials, node="1", config=FAST
            )
            return server.id

        server_id = store.transaction(panel_server)
        ptero.add_servers(
            [
                ExistingServer(name="lobby-mc", server_id=801, identifier="0000aa01", limits={"memory": 2048, "disk": 10240}),
                ExistingServer(name="survival-eu", server_id=802, identifier="0000aa02", running=False, limits={"memory": 8192, "disk": 40960}),
            ]
        )

        async def run(pilot) -> None:  # type: ignore[no-untyped-def]
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            wizard = pilot.app.screen
            wizard.query_one("#customer").value = "3"
            wizard.query_one("#type").value = "pterodactyl"
            wizard.query_one("#mode").value = "import"
            await pilot.press("enter")
            await settle(pilot)
            wizard.query_one("#name").value = "lobby"
            wizard.query_one("#price").value = "6.00"
            wizard.query_one("#server").value = str(server_id)
            await settle(pilot)
            choice = wizard.query_one("#external-choice")
            for _ in range(100):
                if len(choice._options) > 1:
                    break
                await settle(pilot, rounds=1)
            choice.focus()
            await pilot.press("enter")
            await settle(pilot)
            for field in wizard.query(Input):
                field.cursor_blink = False
            await pilot.pause(0.05)

        assert snap_compare(make_app(store, alice), run_before=run)


class TestOtherScreens:
    def test_help(self, store, alice, snap_compare):
        assert snap_compare(make_app(store, alice), run_before=interact("question_mark"))

    def test_customer(self, store, alice, snap_compare):
        """`p` on the first row: the customer's profile and their services."""
        assert snap_compare(make_app(store, alice), run_before=interact("p", quiet=True))

    def test_customer_activity(self, store, alice, snap_compare):
        assert snap_compare(make_app(store, alice), run_before=interact("p", "right_curly_bracket", "right_curly_bracket", quiet=True))

    def test_jobs(self, store, alice, snap_compare):
        register(BrokenModule)
        try:
            draft = records.ServiceDraft(customer="1", name="gateway test", type="broken", price="5.00", cycle="monthly", external="x-1")
            target = store.transaction(lambda session: records.import_service(session, alice, draft).id)
            bulk.run(store, alice, "suspend", {}, [target], selection={"ids": [target]})
            assert snap_compare(make_app(store, alice), run_before=interact("J"))
        finally:
            unregister("broken")
