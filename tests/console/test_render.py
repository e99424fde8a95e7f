"""Status colours: explicit, distinct in 256 colours, readable on the console's backgrounds."""

from __future__ import annotations

from itertools import combinations

import pytest
from rich.color import Color, ColorSystem, ColorType
from rich.style import Style
from textual.color import Color as TextualColor

from svcconsole.console.app import ConsoleApp
from svcconsole.widgets.render import STATUS_STYLES
from svcconsole.widgets.service_table import ServiceTable
from tests.console.conftest import make_app, settle

pytestmark = pytest.mark.anyio


def colour(style: str) -> Color:
    found = Style.parse(style).color
    assert found is not None, style
    return found


def in_256(value: Color) -> tuple[int, int, int]:
    downgraded = value.downgrade(ColorSystem.EIGHT_BIT)
    triplet = downgraded.get_truecolor()
    return (triplet.red, triplet.green, triplet.blue)


def contrast(first: tuple[int, int, int], second: tuple[int, int, int]) -> float:
    """The WCAG contrast ratio of two colours."""

    def luminance(rgb: tuple[int, int, int]) -> float:
        channels = [value / 255 for value in rgb]
        linear = [value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4 for value in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_status_colours_are_explicit_not_theme_mapped_ansi_names():
    for status, style in STATUS_STYLES.items():
        value = colour(style)
        assert value.type in {ColorType.TRUECOLOR, ColorType.EIGHT_BIT}, (status, style)
        if value.type is ColorType.EIGHT_BIT:
            assert value.number is not None and value.number >= 16, (status, style)


def test_every_pair_of_statuses_stays_apart_in_256_colours():
    for (first, first_style), (second, second_style) in combinations(STATUS_STYLES.items(), 2):
        a, b = in_256(colour(first_style)), in_256(colour(second_style))
        distance = sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5
        assert distance >= 80, f"{first} {a} and {second} {b} look alike"


def test_deleted_is_struck_through_as_well_as_muted():
    assert Style.parse(STATUS_STYLES["deleted"]).strike


async def test_status_colours_read_on_the_list_and_its_cursor(db, admin, frozen):
    app = make_app(db, admin)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app, ConsoleApp)
        table = app.screen.query_one(ServiceTable)
        backgrounds = {
            "list": table.rich_style.bgcolor,
            "cursor": table.get_component_rich_style("service-table--cursor").bgcolor,
            "marked": table.get_component_rich_style("service-table--marked").bgcolor,
        }
        for name, background in backgrounds.items():
            assert background is not None, name
            behind = in_256(background)
            for status, style in STATUS_STYLES.items():
                minimum = 2.0 if status == "deleted" else 4.0
                assert contrast(in_256(colour(style)), behind) >= minimum, (status, name, TextualColor.from_rich_color(background).hex)
