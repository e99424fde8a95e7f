"""What both command palettes share: the service id a query names."""

from __future__ import annotations

from svcconsole.core import parse
from svcconsole.core.errors import InvalidInput


def service_id_in(query: str) -> int | None:
    """The id a palette query such as "open service 12" or "#12" names, when it is a valid id."""
    words = query.strip().lower().removeprefix("open").strip().removeprefix("service").strip().lstrip("#")
    try:
        return parse.parse_id("id", words) if words else None
    except InvalidInput:
        return None
