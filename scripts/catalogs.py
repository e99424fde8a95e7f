"""The customer area's gettext catalogs: extract, update, compile, or check them (Babel, no make).

    python scripts/catalogs.py            # extract svcconsole.pot, update each locale's .po, compile its .mo
    python scripts/catalogs.py --check    # exit 1, naming what is wrong, when the catalogs are not up to date

The messages are every literal passed to `tr(...)`, `translate(...)` or `N_(...)` in svcconsole
(the customer area's calls, the shared widgets' and core's tables of labels), plus the words of
the customer area's key registry (scopes, key descriptions and help, as the footer, help and
palette show them). A new msgid lands in each .po untranslated; translate it there (msgstr),
then run the script again to compile. `--check` fails on a msgid missing from a .po, an empty or
fuzzy translation, a .pot whose messages are not the source's, a .mo that is not the .po's.
"""

from __future__ import annotations

import argparse
import gettext
import io
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "svcconsole"
LOCALE_DIR = PACKAGE / "locale"
DOMAIN = "svcconsole"
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
LOCALES = ("fr",)
KEYWORDS = {"tr": None, "translate": None, "N_": None}
"""The functions whose first literal argument is a message (Babel's keyword spec: None is the first argument)."""
CATALOG_DATE = datetime(2026, 12, 7, tzinfo=UTC)
"""A fixed date in the headers, so a run that changes no message changes no file."""


def registry_messages() -> Iterable[tuple[str, str]]:
    """(msgid, where) of the customer area's key registry: scope titles, key descriptions and help."""
    sys.path.insert(0, str(ROOT))
    from svcconsole.client.actions import REGISTRY, SCOPES
    from svcconsole.widgets.help import HELP_KEYS

    for title in SCOPES.values():
        yield title, "svcconsole/client/actions.py (SCOPES)"
    for entry in (*REGISTRY, *HELP_KEYS):
        yield entry.description, f"registry {entry.scope}.{entry.action}"
        yield entry.help, f"registry {entry.scope}.{entry.action}"


def extract() -> Catalog:
    """The template: every message of the source and of the registry."""
    catalog = Catalog(project=DOMAIN, version="0.1", creation_date=CATALOG_DATE, revision_date=CATALOG_DATE, fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(PACKAGE, method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=("i18n:",)):
        if isinstance(message, str) and message:
            catalog.add(message, locations=[(f"svcconsole/{filename}", lineno)], auto_comments=comments, context=context)
    for message, where in registry_messages():
        if message:
            catalog.add(message, locations=[(where, 0)])
    return catalog


def shown(path: Path) -> str:
    """`path` as the messages name it: from the repository's root when it is inside."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"


def po_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, sort_output=True, ignore_obsolete=True, include_previous=False, include_lineno=False)
    return buffer.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale, domain=DOMAIN)


def updated(template: Catalog, locale: str) -> Catalog:
    """The locale's catalog with the template's messages: kept translations, new ones empty, gone ones dropped."""
    path = po_path(locale)
    catalog = read_catalog(path, locale) if path.exists() else Catalog(locale=locale, domain=DOMAIN, project=DOMAIN, version="0.1")
    catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
    catalog.creation_date = CATALOG_DATE
    catalog.revision_date = CATALOG_DATE
    catalog.fuzzy = False
    return catalog


def compiled_from(path: Path, catalog: Catalog) -> bool:
    """Whether the .mo at `path` holds exactly the translated messages of `catalog` (read as gettext reads it)."""
    if not path.exists():
        return False
    try:
        with path.open("rb") as handle:
            compiled = gettext.GNUTranslations(handle)._catalog  # gettext's table of msgid -> msgstr
    except OSError:
        return False
    translated = {message.id: message.string for message in catalog if message.id and message.string and not message.fuzzy}
    return {key: value for key, value in compiled.items() if key} == translated


def problems() -> list[str]:
    """What is out of date, one line each (empty: the catalogs match the source)."""
    template = extract()
    found: list[str] = []
    wanted = {message.id for message in template if message.id}
    if not TEMPLATE.exists() or {message.id for message in read_catalog(TEMPLATE) if message.id} != wanted:
        found.append(f"{shown(TEMPLATE)} is not the source's extraction")
    for locale in LOCALES:
        path = po_path(locale)
        if not path.exists():
            found.append(f"{shown(path)} is missing")
            continue
        catalog = read_catalog(path, locale)
        for message in sorted(wanted, key=str):
            entry = catalog.get(message)
            if entry is None:
                found.append(f"{locale}: msgid {message!r} is not in {shown(path)}")
            elif not entry.string or entry.fuzzy:
                found.append(f"{locale}: msgid {message!r} has no translation")
        if not compiled_from(mo_path(locale), catalog):
            found.append(f"{shown(mo_path(locale))} is stale: run python scripts/catalogs.py")
    return found


def write_all() -> None:
    template = extract()
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    TEMPLATE.write_bytes(po_bytes(template))
    for locale in LOCALES:
        catalog = updated(template, locale)
        po_path(locale).parent.mkdir(parents=True, exist_ok=True)
        po_path(locale).write_bytes(po_bytes(catalog))
        catalog = read_catalog(po_path(locale), locale)
        mo_path(locale).write_bytes(mo_bytes(catalog))
        missing = sum(1 for message in catalog if message.id and (not message.string or message.fuzzy))
        print(f"{locale}: {len(catalog)} messages, {missing} to translate in {shown(po_path(locale))}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report what is out of date (exit 1 if anything is)")
    if parser.parse_args().check:
        found = problems()
        for line in found:
            print(line)
        return 1 if found else 0
    write_all()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
