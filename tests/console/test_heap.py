"""Both apps move their start-up objects out of the garbage collector's reach once they are up."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from svcconsole.client.app import ClientApp
from tests.client.conftest import client_of
from tests.conftest import new_service
from tests.console.conftest import make_app, settle

pytestmark = pytest.mark.anyio


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


async def test_the_console_freezes_its_start_up_objects(db, admin, catalog, frozen, unfrozen):
    new_service(db, admin, catalog, name="web", status="active")
    app = make_app(db, admin)
    assert gc.get_freeze_count() == 0
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert gc.get_freeze_count() > 10_000, "the imported libraries and the mounted app are frozen"


async def test_the_customer_area_freezes_its_start_up_objects(db, admin, catalog, frozen, unfrozen):
    new_service(db, admin, catalog, name="web", status="active")
    app = ClientApp(db, client_of(db, admin.name, str(catalog.customer_id)), tz=ZoneInfo("UTC"))
    assert gc.get_freeze_count() == 0
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert gc.get_freeze_count() > 10_000
