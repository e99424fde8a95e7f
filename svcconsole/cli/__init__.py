"""The command-line interface: typer commands that parse, call core, and print."""

from __future__ import annotations

from svcconsole.cli.main import app


def main() -> None:
    """The `svcconsole` console script."""
    app(prog_name="svcconsole")


__all__ = ["app", "main"]
