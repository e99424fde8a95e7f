"""Sort keys the list orders by where a column's own order is not the one people expect.

Names sort naturally (`alpha-28` before `alpha-262`): `natural_key` writes every run of digits
as its length then its digits, so comparing keys as plain strings compares the numbers by value.
Billing cycles sort by length (weekly, monthly, ... triennially), then one-time and free.
Both keys are stored on the service row and indexed, so the list stays a keyset scan.
"""

from __future__ import annotations

import re

DIGITS = re.compile(r"[0-9]+")
MAX_DIGITS = 99

CYCLE_ORDER = ("weekly", "monthly", "quarterly", "semiannually", "annually", "biennially", "triennially", "onetime", "free")
"""Billing cycles from the shortest to the longest; the ones that never renew come last."""


def _number(match: re.Match[str]) -> str:
    digits = match.group(0).lstrip("0") or "0"
    digits = digits[:MAX_DIGITS]
    return f"{len(digits):02d}{digits}"


def natural_key(name: str) -> str:
    """`name` lowercased with each number as its digit count (two digits) and its digits."""
    return DIGITS.sub(_number, (name or "").lower())


def cycle_rank(cycle: str | None) -> int:
    """The position of `cycle` in `CYCLE_ORDER` (an unknown cycle after every known one)."""
    try:
        return CYCLE_ORDER.index((cycle or "").lower())
    except ValueError:
        return len(CYCLE_ORDER)
