"""Bugs the type checker found (issue 21), each pinned by the behaviour that was wrong."""

from __future__ import annotations

import typing

import pytest
from rich.table import Table
from textual.layout import Layout

from svcconsole.console.screens import detail
from svcconsole.widgets.service_table import ServiceTable
from tests.console.conftest import make_app, settle

pytestmark = pytest.mark.anyio


def test_the_overview_tables_return_annotation_resolves() -> None:
    """`overview_table` was annotated with a `Table` the module never imported: resolving its hints raised NameError."""
    assert typing.get_type_hints(detail.overview_table)["return"] is Table


async def test_the_service_table_leaves_textuals_layout_alone(db, admin) -> None:  # type: ignore[no-untyped-def]
    """The list's visible columns were a property named `layout`, which replaced Widget.layout (the Layout Textual arranges with)."""
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(ServiceTable)
        assert isinstance(table.layout, Layout)
        assert table.column_layout.first == table.first_column
