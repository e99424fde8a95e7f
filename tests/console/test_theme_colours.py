"""The status colours of every Textual theme: cells of the xterm 256-colour palette (a 256-colour
terminal shows them as they are) that read on the theme's surface and on the list's cursor and
marked rows (WCAG contrast, computed here from the colours)."""

from __future__ import annotations

import pytest
from textual.color import Color
from textual.theme import BUILTIN_THEMES

from svcconsole.core.statuses import Status
from svcconsole.widgets import render

CUBE_LEVELS = (0, 95, 135, 175, 215, 255)
GREY_LEVELS = tuple(8 + 10 * step for step in range(24))
MINIMUM_CONTRAST = 3.5
"""WCAG's 3:1 for large text, with some margin: every status but `deleted` (struck out and dim on purpose)."""


def in_xterm_256(colour: Color) -> bool:
    cube = all(channel in CUBE_LEVELS for channel in (colour.r, colour.g, colour.b))
    grey = colour.r == colour.g == colour.b and colour.r in GREY_LEVELS
    return cube or grey


def luminance(colour: Color) -> float:
    def channel(value: int) -> float:
        share = value / 255
        return share / 12.92 if share <= 0.03928 else ((share + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(colour.r) + 0.7152 * channel(colour.g) + 0.0722 * channel(colour.b)


def contrast(first: Color, second: Color) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_every_status_has_a_theme_variable() -> None:
    names = render.theme_variables(True)
    assert {f"status-{status.value}" for status in Status} <= set(names)


@pytest.mark.parametrize("name", sorted(BUILTIN_THEMES))
def test_status_colours_read_on_the_theme(name: str) -> None:
    theme = BUILTIN_THEMES[name]
    variables = render.theme_variables(theme.dark)
    generated = theme.to_color_system().generate()
    backgrounds = {"surface": generated["surface"], **{key: value for key, value in variables.items() if key.startswith("row-")}}
    for key, value in variables.items():
        colour = Color.parse(value)
        assert in_xterm_256(colour), (key, value)
        if not key.startswith("status-") or key == "status-deleted":
            continue
        for where, background in backgrounds.items():
            if background == "transparent":
                continue
            assert contrast(colour, Color.parse(background)) >= MINIMUM_CONTRAST, (name, key, where)
