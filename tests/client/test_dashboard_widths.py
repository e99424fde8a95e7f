"""The "Active services" widget's columns take the width the terminal gives (issue 17 item 5):
on 120 columns a long service name shows in full, on 80 it is cut, and the other columns keep
their dates, switches and prices whole in both languages."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from svcconsole.client.app import ClientApp
from svcconsole.client.widgets import ActiveServices, column_widths
from svcconsole.core import records
from tests.client.conftest import client_of
from tests.console.conftest import settle

pytestmark = pytest.mark.anyio

LONG_NAME = "shop-frontend-production-eu-west-2-primary"  # 42 characters


def test_widths_give_the_name_what_the_other_columns_leave():
    titles = ["id", "Name", "Expiration date", "Auto-Renewal", "Renew"]
    rows = [("5", LONG_NAME, "Expires 2027-08-07", "On", "12.00 EUR/month")]
    # 120 cells: id 2 + expiration 18 + auto 12 + renew 15 = 47, padding 2 x 5 = 10, the name 63
    assert column_widths(titles, rows, 120) == [2, 63, 18, 12, 15]
    # 78 cells: the name keeps 21
    assert column_widths(titles, rows, 78) == [2, 21, 18, 12, 15]
    # 50 cells: the auto-renewal title goes on two lines (as wide as "Auto-Renewal", one word), then the name keeps 8
    assert column_widths(titles, rows, 50) == [2, 8, 18, 12, 15]


def test_a_french_title_longer_than_its_values_narrows_to_its_longest_word():
    titles = ["n°", "Nom", "Date d'expiration", "Renouvellement automatique", "Renouveler"]
    rows = [("5", "alice web", "Expire le 7 août 2027", "Activé", "12,00 €/mois")]
    # 78 cells: padding 10, id 2, expiration 21, auto 14 ("Renouvellement"), renew 12 ("12,00 €/mois"): the name keeps 19
    assert column_widths(titles, rows, 78) == [2, 19, 21, 14, 12]


@pytest.mark.parametrize(("width", "shown_in_full"), [(120, True), (80, False)])
async def test_the_widget_shows_a_long_name_in_full_on_a_wide_terminal(db, admin, shop, width, shown_in_full):
    db.transaction(lambda session: records.edit_service(session, admin, shop.alice["web"], {"name": LONG_NAME}))
    app = ClientApp(db, client_of(db, "svcclient", "alice@example.com"), tz=ZoneInfo("UTC"))
    async with app.run_test(size=(width, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(ActiveServices)
        name_width = table.columns["name"].width
        assert (name_width >= len(LONG_NAME)) is shown_in_full
        assert table.columns["expiration"].width >= len("Expires 2027-08-07")
        assert sum(column.width + 2 for column in table.columns.values()) <= width
