"""The console's words for what core says in the CLI's.

Core names a bad value by its field as the CLI spells it (`--days: 0 is too small`), so the
words stay in one place; the console shows the field as a label (`Days: 0 is too small`) and
raw names as words (`awaiting payment`, `meta_set` as "metadata set").
"""

from __future__ import annotations

import re
from typing import Any

OPTION_FIELD = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)(?=: )")
RAW_NAMES = re.compile(r"\b(awaiting_payment|in_progress)\b")

ACTIVITY_WORDS = {
    "ticket_open": "ticket opened",
    "ticket_reply": "ticket reply",
    "ticket_note": "ticket internal note",
    "ticket_close": "ticket closed",
    "meta_set": "metadata set",
    "meta_unset": "metadata removed",
    "status_override": "status override",
    "option_add": "option added",
    "option_edit": "option changed",
    "option_remove": "option removed",
    "add_days": "days added",
    "subtract_days": "days taken off",
    "invoice_paid": "invoice paid",
}


def field_label(option: str) -> str:
    """`--max-renewals` as the console's label: "Max renewals"."""
    words = option.lstrip("-").replace("-", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def console_text(message: str) -> str:
    """A message from core in the console's words: CLI option names as field labels, raw
    status names as words."""
    labelled = OPTION_FIELD.sub(lambda match: field_label(match.group(1)), message)
    return RAW_NAMES.sub(lambda match: match.group(1).replace("_", " "), labelled)


def _value(value: Any) -> str:
    return "-" if value in (None, "") else str(value)


def activity_action(action: str, details: dict[str, Any] | None) -> str:
    """An activity row's action as the console says it, with the key and value it changed."""
    details = details or {}
    name = ACTIVITY_WORDS.get(action, action.replace("_", " "))
    if action == "meta_set":
        old = details.get("old")
        change = f"{_value(old)} → {_value(details.get('new'))}" if old is not None else _value(details.get("new"))
        return f"{name}: {details.get('key', '?')} = {change}"
    if action.startswith("ticket_") and "ticket" in details:
        return f"{name} #{details['ticket']}"
    if action == "meta_unset":
        return f"{name}: {details.get('key', '?')} (was {_value(details.get('old'))})"
    if action in {"status_override", "edit"}:
        changes = {key: pair for key, pair in details.items() if isinstance(pair, list) and len(pair) == 2}
        status = changes.pop("status", None)
        fields = [f"{_value(status[0])} → {_value(status[1])}"] if status else []
        fields += [f"{field_label(key)} {_value(pair[0])} → {_value(pair[1])}" for key, pair in changes.items()]
        return f"{name}: {'; '.join(fields)}" if fields else name
    return name
