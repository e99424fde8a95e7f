"""The gettext catalogs match the source: every message of the customer area is in the French
catalog, translated, and the compiled .mo that ships in the package is the .po's (issue 17 item 4).

When this fails after new customer-area strings: `python scripts/catalogs.py`, translate the new
msgids in svcconsole/locale/fr/LC_MESSAGES/svcconsole.po, run it again, commit the three files.
"""

from __future__ import annotations

import gettext
import importlib.util
import tomllib
from pathlib import Path

import pytest

from svcconsole.core import i18n

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalogs():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("catalogs_script", ROOT / "scripts" / "catalogs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_catalogs_hold_every_message_of_the_source_translated_and_compiled(catalogs):
    assert catalogs.problems() == []


def test_the_check_names_a_message_missing_from_the_catalog_and_a_stale_mo(catalogs, monkeypatch, tmp_path):
    extract = catalogs.extract

    def with_a_new_message():  # type: ignore[no-untyped-def]
        template = extract()
        template.add("A sentence nobody translated yet", locations=[("svcconsole/client/screens.py", 1)])
        return template

    monkeypatch.setattr(catalogs, "extract", with_a_new_message)
    found = catalogs.problems()
    assert any("'A sentence nobody translated yet' is not in" in line for line in found), found
    assert any("svcconsole.pot is not the source's extraction" in line for line in found), found

    monkeypatch.setattr(catalogs, "extract", extract)
    older = catalogs.read_catalog(catalogs.po_path("fr"), "fr")
    older["Expires {date}"].string = "Expire {date}"
    stale = tmp_path / "svcconsole.mo"
    stale.write_bytes(catalogs.mo_bytes(older))
    monkeypatch.setattr(catalogs, "mo_path", lambda locale: stale)
    assert any("is stale" in line for line in catalogs.problems())


def test_the_compiled_french_catalog_is_the_one_the_translator_reads():
    assert Path(gettext.find(i18n.CATALOG_DOMAIN, i18n.LOCALE_DIR, languages=["fr"]) or "") == i18n.LOCALE_DIR / "fr" / "LC_MESSAGES" / "svcconsole.mo"
    assert i18n.translator("fr")("Expires {date}") == "Expire le {date}"
    assert i18n.translator("en")("Expires {date}") == "Expires {date}"


def test_the_package_data_ships_the_compiled_catalogs():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["svcconsole"]
    shipped = [path.relative_to(i18n.LOCALE_DIR.parent) for path in i18n.LOCALE_DIR.rglob("*") if path.is_file()]
    assert any(path.suffix == ".mo" for path in shipped)
    for path in shipped:
        assert any(path.match(pattern) for pattern in patterns), f"{path} is not in the wheel's package-data"
