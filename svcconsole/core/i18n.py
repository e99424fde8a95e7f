"""The languages a customer reads: English and French, from gettext catalogs shipped in the package.

Admin screens stay English; the customer area and the customer's mails go through `translator`.
A customer's locale is their own (`customer.locale`) or, when unset, the `default_locale` setting.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from svcconsole.core import clock
from svcconsole.core.errors import InvalidInput

SUPPORTED_LOCALES = ("en", "fr")
DEFAULT_LOCALE = "en"
CATALOG_DOMAIN = "svcconsole"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def parse_locale(field: str, text: str) -> str:
    """A supported locale code, lower case; anything else is refused naming the field."""
    code = text.strip().lower().replace("-", "_")
    if code not in SUPPORTED_LOCALES:
        raise InvalidInput(field, f"expected one of {', '.join(SUPPORTED_LOCALES)}, got {text!r}")
    return code


def locale_of(customer_locale: str | None, default_locale: str | None) -> str:
    """The customer's own locale, else the default setting, else English."""
    return customer_locale or default_locale or DEFAULT_LOCALE


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalog for `locale`; English (and a missing catalog) translate to themselves."""
    return gettext.translation(CATALOG_DOMAIN, localedir=LOCALE_DIR, languages=[locale], fallback=True)


def translator(locale: str | None) -> Callable[[str], str]:
    """The gettext function of `locale`: `tr("Expires {date}")` gives the text in that language."""
    return translations(locale or DEFAULT_LOCALE).gettext


# ----------------------------------------------------------------------------- marking and naming

Translate = Callable[[str], str]
"""A gettext function: `tr("Expires {date}")` is the text in the customer's language."""


def N_(text: str) -> str:  # gettext's conventional name for "mark for extraction, translate later"
    """Mark `text` for the catalog without translating it here (tables of labels built at import)."""
    return text


def untranslated(text: str) -> str:
    """The identity translation: English, as the admin screens show it."""
    return text


STATUS_NAMES: dict[str, str] = {
    "ordered": N_("ordered"),
    "pending": N_("pending"),
    "active": N_("active"),
    "suspended": N_("suspended"),
    "expired": N_("expired"),
    "cancelled": N_("cancelled"),
    "terminated": N_("terminated"),
    "deleted": N_("deleted"),
}
"""A service's status as a customer reads it (the stored value is the English key)."""

SUSPEND_KIND_NAMES: dict[str, str] = {
    "admin": N_("by support"),
    "client": N_("by you"),
    "abuse": N_("abuse"),
    "overdue": N_("overdue"),
    "temporary": N_("temporary"),
}

CYCLE_NAMES: dict[str, str] = {
    "weekly": N_("weekly"),
    "monthly": N_("monthly"),
    "quarterly": N_("quarterly"),
    "semiannually": N_("semiannually"),
    "annually": N_("annually"),
    "biennially": N_("biennially"),
    "triennially": N_("triennially"),
    "onetime": N_("one time"),
    "free": N_("free"),
}
"""Billing cycles by name (ClientXCMS's French guide: Mensuel, Trimestriel, Semestriel, Annuel...)."""

PER_CYCLE: dict[str, str] = {
    "weekly": N_("{price}/week"),
    "monthly": N_("{price}/month"),
    "quarterly": N_("{price}/quarter"),
    "semiannually": N_("{price}/6 months"),
    "annually": N_("{price}/year"),
    "biennially": N_("{price}/2 years"),
    "triennially": N_("{price}/3 years"),
    "onetime": N_("{price} once"),
}
"""What one renewal costs per billing period: `12.00 EUR/month`."""


def status_name(status: str, tr: Translate) -> str:
    return tr(STATUS_NAMES[status]) if status in STATUS_NAMES else status


def suspend_kind_name(kind: str, tr: Translate) -> str:
    return tr(SUSPEND_KIND_NAMES[kind]) if kind in SUSPEND_KIND_NAMES else kind


def cycle_name(cycle: str, tr: Translate) -> str:
    return tr(CYCLE_NAMES[cycle]) if cycle in CYCLE_NAMES else cycle


# ----------------------------------------------------------------------------- dates and money
# Babel is imported by the functions that format, on first use: the admin CLI's read commands
# import this module (for the settings) and never format in a customer's language.

DATE_FORMATS = {"en": "yyyy-MM-dd", "fr": "medium"}
"""English keeps the BILLmanager widget's `Expires 2025-08-07`; French reads `7 août 2026`."""
MOMENT_FORMATS = {"en": "yyyy-MM-dd HH:mm", "fr": "d MMM y HH:mm"}
MONEY_FORMATS: dict[str, str | None] = {"en": "#,##0.00 ¤¤", "fr": None}
"""English keeps `12.00 EUR` (the widget's `1.00 USD/day`); French uses its own pattern, `12,00 €`."""


def format_day(moment: datetime | date | None, tz: ZoneInfo, locale: str) -> str:
    """The local day of `moment` in `locale` (Babel's `format_date`); "-" when there is none."""
    if moment is None:
        return "-"
    from babel.dates import format_date

    local = clock.as_utc(moment).astimezone(tz).date() if isinstance(moment, datetime) else moment
    return format_date(local, format=DATE_FORMATS.get(locale, "medium"), locale=locale)


def format_moment(moment: datetime | None, tz: ZoneInfo, locale: str) -> str:
    """The local day and minute of `moment` in `locale`; "-" when there is none."""
    if moment is None:
        return "-"
    from babel.dates import format_datetime

    local = clock.as_utc(moment).astimezone(tz).replace(tzinfo=None)
    return format_datetime(local, format=MOMENT_FORMATS.get(locale, "medium"), locale=locale)


def format_money(amount: Decimal | int | float | None, currency: str | None, locale: str) -> str:
    """`amount` in `currency` as `locale` writes money (Babel's `format_currency`); "-" when there is none."""
    from babel.numbers import format_currency, format_decimal

    if amount is None:
        return "-"
    if not currency:
        return format_decimal(Decimal(amount), format="#,##0.00", locale=locale)
    return format_currency(Decimal(amount), currency.upper(), format=MONEY_FORMATS.get(locale), locale=locale)


def price_per_cycle(amount: Decimal, currency: str, billing_cycle: str, locale: str) -> str:
    """`12.00 EUR/month`, `12,00 €/mois`: what one renewal costs per billing period; "free" for a free service."""
    tr = translator(locale)
    if billing_cycle == "free":
        return tr("free")
    price = format_money(amount, currency, locale)
    pattern = PER_CYCLE.get(billing_cycle)
    return tr(pattern).format(price=price) if pattern else price
