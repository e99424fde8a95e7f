"""Export from the console (ctrl+e): every matching row, not just the page shown, in the CLI's
CSV and JSON records, written in pages with a progress bar; a bad path is one line and no file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Input, ProgressBar, Static

from svcconsole.console.screens.export import ExportScreen
from svcconsole.core import export
from svcconsole.core.errors import InvalidInput
from svcconsole.store.queries import ServiceFilter, Sort
from tests.conftest import Cli, make_actor
from tests.console.conftest import make_app, settle

pytestmark = pytest.mark.anyio


async def export_from_console(demo, path: str, *keys: str) -> tuple[ExportScreen, str]:  # type: ignore[no-untyped-def]
    alice = make_actor(demo, "alice", "admin")
    app = make_app(demo, alice, page_size=20)  # pages of 20: the export must not stop at the rows loaded
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        screen.query_one("#export-path", Input).value = path
        await pilot.press("enter")
        await settle(pilot)
        error = screen.query_one("#dialog-error", Static)
        said = str(error.content) if error.display else ""
        if not said:
            bar = screen.query_one("#export-progress", ProgressBar)
            assert bar.progress == bar.total == screen.total
        return screen, said


async def test_export_csv_is_every_matching_row_as_the_cli_lists_them(demo, cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "suspended.csv"
    screen, said = await export_from_console(demo, str(target), "slash", *"status:suspended", "enter", "o", "o")
    assert said == ""
    assert screen.total > 20
    expected = cli("services", "list", "--status", "suspended", "--sort", "name", "--all", "--format", "csv")
    assert target.read_text(encoding="utf-8") == expected.stdout
    assert not list(tmp_path.glob(".*.part"))


async def test_export_json_of_a_tab(demo, cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "active.json"
    _, said = await export_from_console(demo, str(target), "right_square_bracket", "right_square_bracket")
    assert said == ""
    expected = cli("services", "list", "--status", "active", "--all", "--format", "json")
    assert json.loads(target.read_text(encoding="utf-8")) == json.loads(expected.stdout)


async def test_a_path_without_a_format_is_refused_and_nothing_written(demo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    _, said = await export_from_console(demo, str(out / "list.txt"))
    assert said == "path: 'list.txt' does not end in .csv or .json (the ending chooses the format)"
    _, said = await export_from_console(demo, str(out / "nowhere" / "list.csv"))
    assert said == f"path: no folder {str(out / 'nowhere')!r}"
    assert list(out.iterdir()) == []


def test_export_reads_the_database_in_pages(demo, tmp_path: Path) -> None:
    """Pages of 50 rows: the progress grows 50 at a time, never every row read at once."""
    steps: list[int] = []
    target = tmp_path / "all.csv"
    every = ServiceFilter()
    written = export.export_services(demo, every, Sort("expires", True), target, "csv", progress=steps.append, page_rows=50)
    assert written == export.count(demo, every)
    assert steps == [*range(50, written, 50), written]
    assert len(target.read_text().splitlines()) == written + 1


def test_a_stopped_export_leaves_no_file(demo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = out / "all.json"
    pages: list[int] = []
    with pytest.raises(export.ExportStopped):
        export.export_services(demo, ServiceFilter(), Sort(), target, "json", progress=pages.append, stopped=lambda: bool(pages), page_rows=50)
    assert pages == [50]
    assert list(out.iterdir()) == []


def test_an_unwritable_path_is_one_line_and_leaves_nothing(demo, tmp_path: Path) -> None:
    """The file cannot take the place of a folder of that name: one line, no partial file left."""
    folder = tmp_path / "out"
    (folder / "x.csv").mkdir(parents=True)
    with pytest.raises(InvalidInput) as raised:
        export.export_services(demo, ServiceFilter(), Sort(), folder / "x.csv", "csv")
    assert raised.value.message.startswith(f"path: cannot write {str(folder / 'x.csv')!r}: ")
    assert [path.name for path in folder.iterdir()] == ["x.csv"]


@pytest.mark.slow
def test_memory_stays_bounded_as_the_rows_grow(tmp_path: Path, frozen) -> None:  # type: ignore[no-untyped-def]
    """Ten times the rows, the same peak: an export holds one page, never every row."""
    import tracemalloc

    from svcconsole.core import seed
    from svcconsole.core.context import open_database

    peaks = {}
    for services in (1000, 10000):
        db = open_database(f"sqlite:///{tmp_path / f'{services}.db'}")
        seed.seed_demo(db, services=services, with_deleted=False)
        tracemalloc.start()
        written = export.export_services(db, ServiceFilter(), Sort("name"), tmp_path / f"{services}.json", "json", page_rows=500)
        peaks[services] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        db.dispose()
        assert written == services
    assert peaks[10000] < peaks[1000] * 1.5 + 500_000, peaks
