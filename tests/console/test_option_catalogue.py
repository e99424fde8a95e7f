"""The Options tab picks from the product's option catalogue through core, like `services add-option`."""

from __future__ import annotations

from decimal import Decimal

import pytest
from textual.widgets import Input, Select

from svcconsole.core import actions, option_catalog, records
from tests.conftest import new_service
from tests.console.conftest import make_app, notifications, settle

OPTIONS_TAB = 3


@pytest.fixture
def offered(db, admin, catalog):  # type: ignore[no-untyped-def]
    def work(session):  # type: ignore[no-untyped-def]
        option_catalog.declare_option(session, admin, catalog.product_id, name="Extra IPv4", choices=["1=3.00", "2=5.50"])
        option_catalog.declare_option(session, admin, catalog.product_id, name="Backup slots", minimum=0, maximum=10, price="1.25")

    db.transaction(work)


async def open_options(pilot, target):  # type: ignore[no-untyped-def]
    await settle(pilot)
    pilot.app.open_service(target)
    await settle(pilot)
    for _ in range(OPTIONS_TAB):
        await pilot.press("right_square_bracket")
    await settle(pilot)


@pytest.mark.anyio
async def test_picking_a_choice_and_a_quantity_in_the_options_tab_adds_them_with_their_prices(db, admin, catalog, offered, frozen):
    target = new_service(db, admin, catalog, name="shop", status="active")
    app = make_app(db, admin)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_options(pilot, target)
        screen = app.screen
        select = screen.query_one("#catalogue-option", Select)
        assert [value for _, value in select._options if isinstance(value, str)] == ["Extra IPv4=1", "Extra IPv4=2", "Backup slots="]
        select.value = "Extra IPv4=2"
        await settle(pilot)
        await pilot.click("#catalogue-add")
        await settle(pilot)
        select.value = "Backup slots="
        screen.query_one("#catalogue-quantity", Input).value = "4"
        await pilot.click("#catalogue-add")
        await settle(pilot)
        assert screen.query_one("#options-table").row_count == 2
        with db.read() as session:
            chosen = [(option.name, option.value, option.quantity, option.price) for option in records.options_of(session, target)]
        assert chosen == [("Extra IPv4", "2", 1, Decimal("5.50")), ("Backup slots", None, 4, Decimal("1.25"))]


@pytest.mark.anyio
async def test_a_choice_taken_twice_or_a_quantity_out_of_range_is_an_error_line_and_adds_nothing(db, admin, catalog, offered, frozen):
    target = new_service(db, admin, catalog, name="shop", status="active")
    db.transaction(lambda session: records.option_add(session, admin, target, name="Extra IPv4", value="1", price="3.00"))
    app = make_app(db, admin)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_options(pilot, target)
        screen = app.screen
        screen.query_one("#catalogue-option", Select).value = "Extra IPv4=2"
        await pilot.click("#catalogue-add")
        await settle(pilot)
        screen.query_one("#catalogue-option", Select).value = "Backup slots="
        screen.query_one("#catalogue-quantity", Input).value = "11"
        await pilot.click("#catalogue-add")
        await settle(pilot)
        errors = [text for severity, text in notifications(app) if severity == "error"]
        assert any("Option: service" in text and "has 'Extra IPv4' already" in text for text in errors), errors
        assert any("'11' is not a quantity of 'Backup slots' (accepted: 0 to 10 at 1.25 each)" in text for text in errors), errors
        with db.read() as session:
            assert len(records.options_of(session, target)) == 1


def test_the_options_tab_with_a_catalogue_choice_picked(db, admin, catalog, offered, frozen, snap_compare):  # type: ignore[no-untyped-def]
    target = new_service(db, admin, catalog, name="shop", status="active")
    db.transaction(lambda session: actions.perform(session, admin, "add-option", target, {"option": "Extra IPv4=2"}))

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await open_options(pilot, target)
        pilot.app.screen.query_one("#catalogue-option", Select).value = "Backup slots="
        pilot.app.screen.query_one("#catalogue-quantity", Input).value = "3"
        await settle(pilot)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause(0.05)

    assert snap_compare(make_app(db, admin), run_before=run)


@pytest.mark.anyio
async def test_removing_an_option_in_the_options_tab_removes_it_through_core_and_says_so(db, admin, catalog, offered, frozen):
    target = new_service(db, admin, catalog, name="shop", status="active")
    db.transaction(lambda session: actions.perform(session, admin, "add-option", target, {"option": "Extra IPv4=1"}))
    app = make_app(db, admin)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_options(pilot, target)
        screen = app.screen
        assert screen.query_one("#options-table").row_count == 1
        screen.query_one("#options-table").focus()
        await settle(pilot)
        await pilot.click("#option-remove")
        await settle(pilot)
        assert screen.query_one("#options-table").row_count == 0
        assert any("option" in message and "removed" in message for _, message in notifications(app)), notifications(app)
    with db.read() as session:
        assert records.options_of(session, target) == []
