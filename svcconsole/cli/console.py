"""`svcconsole demo`: a throwaway database with demo data and sandbox panels, opened in the console."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import typer

from svcconsole.cli.base import state
from svcconsole.cli.output import message
from svcconsole.core.context import acting_operator, open_database
from svcconsole.core.parse import parse_int


def demo(
    ctx: typer.Context,
    services: str = typer.Option("2000", "--services", help="How many demo services to create."),
) -> None:
    """Create a throwaway demo database (unless --db is given), seed it, start sandbox panels
    for its game and VPS servers, and open the console; the panels stop when it closes."""
    from svcconsole.console.demo import start_demo_panels
    from svcconsole.core import seed

    count = parse_int("--services", services, minimum=1, maximum=5_000_000)
    cli = state(ctx)
    folder: Path | None = None
    url = cli.db_url
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix="svcconsole-demo-"))
        url = f"sqlite:///{folder / 'demo.db'}"
    try:
        db = open_database(url)
        message(f"seeding {count:,} demo services into {db!r}…")
        seed.seed_demo(db, services=count, with_deleted=False)
        actor = acting_operator(db, as_login=cli.as_login, read_only=cli.read_only)
        panels = start_demo_panels(db, progress=message)
        try:
            from svcconsole.console.app import run_console

            run_console(db, actor)
        finally:
            panels.stop()
        db.dispose()
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
