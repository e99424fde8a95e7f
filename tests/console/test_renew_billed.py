"""Issue 23 item 8: "Renew now" while an unpaid renewal invoice bills the same period is refused,
naming the invoice (in the console, the CLI and core alike); paying that invoice still renews."""

from __future__ import annotations

import pytest

from svcconsole.core import invoices, lookups, orders
from svcconsole.store.models import Renewal
from tests.conftest import new_service
from tests.console.conftest import make_app, notifications, settle

pytestmark = pytest.mark.anyio


@pytest.fixture
def billed(db, admin, catalog, frozen):  # type: ignore[no-untyped-def]
    """An active service whose next period is on an unpaid renewal invoice."""
    service_id = new_service(db, admin, catalog, name="web", status="active")
    line = db.transaction(lambda session: invoices.invoice_renewal(session, admin, lookups.get_service(session, service_id), 1, "new"))
    return service_id, line.invoice_id


def state(db, service_id):  # type: ignore[no-untyped-def]
    from sqlmodel import select

    with db.read() as session:
        service = lookups.get_service(session, service_id)
        renewals = len(session.exec(select(Renewal).where(Renewal.service_id == service_id)).all())
        return service.expires_at, renewals


async def test_renew_now_in_the_console_is_refused_naming_the_unpaid_invoice(db, admin, billed):  # type: ignore[no-untyped-def]
    service_id, invoice_id = billed
    before = state(db, service_id)
    app = make_app(db, admin)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        dialog = app.screen
        for _ in range(4):
            if app.screen is not dialog:
                break
            await pilot.press("enter")
            await settle(pilot)
        said = [message for _, message in notifications(app)]
        assert any(f"invoice {invoice_id}" in message and "unpaid" in message for message in said), said
    assert state(db, service_id) == before


def test_the_cli_refuses_too_and_paying_the_invoice_still_renews(cli, db, admin, billed):  # type: ignore[no-untyped-def]
    service_id, invoice_id = billed
    expiry, renewals = state(db, service_id)
    result = cli("services", "renew", str(service_id))
    assert result.exit_code != 0 and f"invoice {invoice_id}" in result.stderr
    assert state(db, service_id) == (expiry, renewals)
    db.transaction(lambda session: orders.pay_invoice(session, admin, invoice_id))
    after_expiry, after_renewals = state(db, service_id)
    assert after_expiry > expiry and after_renewals == renewals + 1
