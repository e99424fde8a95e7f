"""Dates, money and cycles as each locale writes them (Babel), and the French wording the
customer area takes from ClientXCMS's French guide. The expected texts are written by hand."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from svcconsole.core import customer, i18n

NBSP, NNBSP = "\u00a0", "\u202f"
PARIS = ZoneInfo("Europe/Paris")

MONEY = [
    # amount, currency, English, French
    (Decimal("12"), "EUR", "12.00 EUR", f"12,00{NBSP}€"),
    (Decimal("1234.5"), "EUR", "1,234.50 EUR", f"1{NNBSP}234,50{NBSP}€"),
    (Decimal("1"), "USD", "1.00 USD", f"1,00{NBSP}$US"),
    (Decimal("0.05"), "GBP", "0.05 GBP", f"0,05{NBSP}£GB"),
    (Decimal("99.9"), "CHF", "99.90 CHF", f"99,90{NBSP}CHF"),
]

DAYS = [
    # moment (UTC), English, French (the day in Paris)
    (datetime(2026, 8, 7, 10, 0, tzinfo=UTC), "2026-08-07", "7 août 2026"),
    (datetime(2026, 9, 30, 23, 30, tzinfo=UTC), "2026-10-01", "1 oct. 2026"),
    (datetime(2027, 2, 1, 12, 0, tzinfo=UTC), "2027-02-01", "1 févr. 2027"),
    (date(2026, 12, 25), "2026-12-25", "25 déc. 2026"),
]

PER_CYCLE = [
    # amount, cycle, English, French
    (Decimal("12"), "monthly", "12.00 EUR/month", f"12,00{NBSP}€/mois"),
    (Decimal("28.5"), "quarterly", "28.50 EUR/quarter", f"28,50{NBSP}€/trimestre"),
    (Decimal("66"), "semiannually", "66.00 EUR/6 months", f"66,00{NBSP}€/6 mois"),
    (Decimal("99.9"), "annually", "99.90 EUR/year", f"99,90{NBSP}€/an"),
    (Decimal("95"), "biennially", "95.00 EUR/2 years", f"95,00{NBSP}€/2 ans"),
    (Decimal("4"), "weekly", "4.00 EUR/week", f"4,00{NBSP}€/semaine"),
    (Decimal("30"), "onetime", "30.00 EUR once", f"30,00{NBSP}€ une fois"),
    (Decimal("0"), "free", "free", "gratuit"),
]

CYCLE_NAMES = [
    ("monthly", "monthly", "mensuel"),
    ("quarterly", "quarterly", "trimestriel"),
    ("semiannually", "semiannually", "semestriel"),
    ("annually", "annually", "annuel"),
    ("biennially", "biennially", "biannuel"),
    ("triennially", "triennially", "triennal"),
    ("weekly", "weekly", "hebdomadaire"),
]
"""ClientXCMS's French guide: Mensuel, Trimestriel, Semestriel, Annuel, Biannuel, Triennal, Hebdomadaire."""


@pytest.mark.parametrize(("amount", "currency", "english", "french"), MONEY)
def test_money_in_each_locale(amount, currency, english, french):
    assert i18n.format_money(amount, currency, "en") == english
    assert i18n.format_money(amount, currency, "fr") == french


@pytest.mark.parametrize(("moment", "english", "french"), DAYS)
def test_days_in_each_locale_in_the_configured_time_zone(moment, english, french):
    assert i18n.format_day(moment, PARIS, "en") == english
    assert i18n.format_day(moment, PARIS, "fr") == french


def test_no_day_and_no_amount_are_a_dash():
    assert i18n.format_day(None, PARIS, "fr") == "-"
    assert i18n.format_money(None, "EUR", "fr") == "-"


@pytest.mark.parametrize(("amount", "cycle", "english", "french"), PER_CYCLE)
def test_a_renewals_price_per_cycle(amount, cycle, english, french):
    assert customer.renew_price_label(amount, "EUR", cycle, "en") == english
    assert customer.renew_price_label(amount, "EUR", cycle, "fr") == french


@pytest.mark.parametrize(("cycle", "english", "french"), CYCLE_NAMES)
def test_cycle_names(cycle, english, french):
    assert i18n.cycle_name(cycle, i18n.translator("en")) == english
    assert i18n.cycle_name(cycle, i18n.translator("fr")) == french


def test_the_widget_wording_follows_clientxcms_french_guide(frozen):
    running, ended = datetime(2027, 8, 7, 12, tzinfo=UTC), datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert customer.expiry_label("active", running, None, PARIS, "en") == "Expires 2027-08-07"
    assert customer.expiry_label("active", running, None, PARIS, "fr") == "Expire le 7 août 2027"
    assert customer.expiry_label("active", ended, None, PARIS, "en") == "Stopped 2026-07-01"
    assert customer.expiry_label("active", ended, None, PARIS, "fr") == "Arrêté le 1 juil. 2026"
    assert customer.expiry_label("active", None, None, PARIS, "fr") == "Sans échéance"
    assert [customer.auto_renew_label(on, "fr") for on in (True, False)] == ["Activé", "Désactivé"]
    assert i18n.translator("fr")("Auto-Renewal") == "Renouvellement automatique"
    assert customer.is_stopped_label("Arrêté le 1 juil. 2026", "fr") and not customer.is_stopped_label("Expire le 7 août 2027", "fr")


def test_status_names_translate_and_unknown_words_stay_as_stored():
    french = i18n.translator("fr")
    assert [i18n.status_name(status, french) for status in ("active", "suspended", "expired", "cancelled", "terminated", "pending")] == [
        "actif",
        "suspendu",
        "expiré",
        "annulé",
        "résilié",
        "en attente",
    ]
    assert i18n.status_name("something-new", french) == "something-new"
