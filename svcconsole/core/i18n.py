"""The languages a customer reads: English and French, from gettext catalogs shipped in the package.

Admin screens stay English; the customer area and the customer's mails go through `translator`.
A customer's locale is their own (`customer.locale`) or, when unset, the `default_locale` setting.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from functools import cache
from pathlib import Path

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
