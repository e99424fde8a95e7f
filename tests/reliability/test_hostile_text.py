"""Hostile text is stored exactly as given and shown inert.

Names, notes, reasons, metadata and option names holding terminal escape sequences, Rich
markup, a right-to-left override, Arabic and Hebrew, and 10,000 characters: the JSON and CSV
output give them back byte for byte; the CLI tables and the admin console show them as text
(escapes spelled out, markup not applied, nothing that a terminal would act on), and nothing
crashes. Typing hostile filter lines into the console leaves it running.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pytest

from svcconsole.core.parse import CONTROL_CHARACTERS
from tests.console.conftest import make_app, settle

ESCAPE = "\x1b[31m"
CUSTOMER = "Evil \x1b]0;pwned\x07 Corp [bold]Ltd[/bold]"
NAME = "[b]x[/b]\x1b[31mR\u202eLTR מרחב مرحبا"
DESCRIPTION = "desc [link=https://evil.example]click[/link] \x1b[2J\r\nsecond line"
NOTES = "start \x1b[32mGREEN [red]red[/red] \u202eRTL " + "long-" * 2000 + " end"
META = "\x1b[5mBLINK [bold]m[/bold] \u2067isolate\u2069 " + "m" * 9900
OPTION = "[i]opt[/i]\x1b[0m\u200f"
REASON = "unpaid \x1b[1mBOLD\x1b[0m [reverse]r[/reverse] \u202eevil סיבה"


@pytest.fixture
def hostile(db, admin, cli, frozen) -> int:  # type: ignore[no-untyped-def]
    """A customer and a suspended service full of hostile text, made through the CLI."""
    assert cli("customers", "add", "--name", CUSTOMER, "--email", "evil@example.com").exit_code == 0
    created = cli(
        "services",
        "create",
        "--customer",
        "evil@example.com",
        "--name",
        NAME,
        "--type",
        "manual",
        "--price",
        "1.00",
        "--description",
        DESCRIPTION,
        "--notes",
        NOTES,
        "-f",
        "json",
    )
    assert created.exit_code == 0, created.stderr
    service_id = json.loads(created.stdout)["id"]
    for args in (
        ("services", "meta", str(service_id), "set", "remark", META),
        ("services", "options", str(service_id), "add", "--name", OPTION, "--price", "1.00"),
        ("services", "deliver", str(service_id)),
        ("services", "suspend", str(service_id), "--reason", REASON),
    ):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.stderr)
    return service_id


def assert_inert(text: str) -> None:
    """Nothing a terminal would act on: no control or bidi-override character at all."""
    found = CONTROL_CHARACTERS.findall(text.replace("\n", ""))
    assert not found, f"raw control characters in the output: {sorted(set(found))!r}"


def test_json_and_csv_give_hostile_text_back_byte_for_byte(cli, hostile):
    record = json.loads(cli("services", "show", str(hostile), "-f", "json").stdout)
    assert (record["name"], record["description"], record["notes"], record["customer"]) == (NAME, DESCRIPTION, NOTES, CUSTOMER)
    assert record["suspend_reason"] == REASON and record["metadata"] == {"remark": META}
    assert [option["name"] for option in record["options"]] == [OPTION]
    listed = json.loads(cli("services", "list", "-f", "json").stdout)
    assert [(row["name"], row["customer"]) for row in listed] == [(NAME, CUSTOMER)]
    assert json.loads(cli("services", "meta", str(hostile), "list", "-f", "json").stdout) == {"remark": META}
    history = json.loads(cli("services", "history", str(hostile), "-f", "json").stdout)
    assert REASON in [row["reason"] for row in history]
    rows = list(csv.DictReader(io.StringIO(cli("services", "list", "-f", "csv").stdout)))
    assert [(row["name"], row["customer"]) for row in rows] == [(NAME, CUSTOMER)]


@pytest.mark.parametrize(
    "args",
    [
        ("services", "list"),
        ("services", "show", "{id}"),
        ("services", "history", "{id}"),
        ("services", "meta", "{id}", "list"),
        ("services", "options", "{id}", "list"),
        ("customers", "list"),
        ("services", "renew", "{id}", "--dry-run"),
        ("services", "unsuspend", "{id}", "--reason", REASON),
    ],
    ids=lambda args: " ".join(part for part in args[:3] if "{" not in part),
)
def test_cli_tables_show_hostile_text_inert_on_one_line_per_row(cli, hostile, args):
    result = cli(*[part.replace("{id}", str(hostile)) for part in args])
    assert result.exit_code == 0, result.stderr
    assert_inert(result.stdout)
    assert_inert(result.stderr)
    if args[0] == "services" and args[1] in {"list", "show"}:
        assert "[b]x[/b]\\x1b[31mR\\u202eLTR" in result.stdout, result.stdout
    if args[:2] == ("services", "list"):
        assert len(result.lines) == 2, result.stdout
        assert "\\x1b[31m" in result.stdout and "\\u202e" in result.stdout
    if args[:2] == ("services", "show"):
        notes = next(line for line in result.stdout.splitlines() if line.startswith("notes"))
        assert "\\x1b[32mGREEN [red]red[/red] \\u202eRTL" in notes
    if args[1] == "history":
        assert "\\x1b[1mBOLD\\x1b[0m [reverse]r[/reverse] \\u202eevil" in result.stdout
    if args[0] == "customers":
        assert "\\x1b]0;pwned\\x07" in result.stdout and "[bold]Ltd[/bold]" in result.stdout


def screen_text(app, *, inert: bool = True) -> str:  # type: ignore[no-untyped-def]
    """What the console shows, as text: the SVG export with its tags stripped."""
    svg = app.export_screenshot()
    if inert:
        assert_inert(svg)
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


@pytest.mark.anyio
async def test_the_console_shows_hostile_text_inert_on_every_screen(db, admin, hostile):
    from svcconsole.console.screens.detail import DetailScreen

    app = make_app(db, admin)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        shown = screen_text(app)
        assert "[b]x[/b]\\x1b[31mR\\u202eLTR" in shown, shown
        assert "Evil \\x1b]0;pwned\\x07 Corp" in shown

        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        shown = screen_text(app)
        assert "[b]x[/b]\\x1b[31mR\\u202eLTR" in shown
        assert "\\x1b[32mGREEN [red]red[/red] \\u202eRTL" in shown
        assert "desc [link=https://evil.example]click[/link] \\x1b[2J\\x0d\\x0asecond line" in shown
        assert "unpaid \\x1b[1mBOLD\\x1b[0m [reverse]r[/reverse]" in shown
        tabs = app.screen.query_one("#tabs")
        for tab, expected in (
            ("options", "[i]opt[/i]\\x1b[0m\\u200f"),
            ("metadata", "\\x1b[5mBLINK [bold]m[/bold] \\u2067isolate\\u2069"),
            ("activity", "[reverse]r[/reverse]"),
        ):
            tabs.active = tab
            await settle(pilot)
            assert expected in screen_text(app), tab

        await pilot.press("u")
        await settle(pilot)
        question = next(line for line in screen_text(app).splitlines() if "Unsuspend service" in line)
        assert "[b]x[/b]" in question and "x1b[31mR" in question and "u202eLTR" in question, question
        await pilot.press("escape")
        await settle(pilot)

        await pilot.press("e")
        await settle(pilot)
        shown = screen_text(app)
        assert "[b]x[/b]\u241b[31mR\ufffdLTR" in shown, "the name field shows ESC and the RTL override as symbols"
        assert "start \u241b[32mGREEN [red]red[/red] \ufffdRTL" in shown
        assert app.screen.query_one("#field-name").value == NAME, "the field's value is the stored text, unchanged"


@pytest.mark.anyio
async def test_hostile_filter_lines_leave_the_console_running_and_say_why(db, admin, hostile):
    from svcconsole.console.screens.services import ServicesScreen

    app = make_app(db, admin)
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ServicesScreen)
        await pilot.press("slash")
        field = screen.query_one("#filter")
        for text, shows in (
            ("²", "not an id"),
            ("999999999999", "not an id"),
            ("web\x00", "NUL"),
            ("status:sleeping", "not a status"),
            ("expires<99999m", "too long"),
            ("[bold]x[/bold] \x1b[31m", None),
            ('product:"unclosed', None),
            ("\u202e" * 50 + "x" * 500, None),
        ):
            field.value = text
            await settle(pilot)
            assert app.is_running and isinstance(app.screen, ServicesScreen), text
            shown = screen_text(app, inert=False)  # the filter field echoes what was typed, as Textual's Input does
            if shows is not None:
                assert shows in shown, (text, shown)
            assert_inert(str(screen.query_one("#filter-error").render()))
            assert "Traceback" not in shown
        field.value = "מרחב"
        await settle(pilot)
        assert screen.table.row_count == 1 if hasattr(screen.table, "row_count") else True
        assert "[b]x[/b]" in screen_text(app)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
