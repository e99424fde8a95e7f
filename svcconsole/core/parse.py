"""Parsing of user input into typed values; every refusal names the field and what is accepted."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from svcconsole.core.clock import as_utc
from svcconsole.core.cycles import BillingCycle
from svcconsole.core.errors import InvalidInput
from svcconsole.store import domains
from svcconsole.store.queries import MAX_ID as MAX_ID

CENT = Decimal("0.01")
MAX_MONEY = Decimal("9999999999.99")
EMAIL_PATTERN = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
DURATION_PATTERN = re.compile(r"^\s*([0-9]+)\s*([hdwm]?)\s*$")
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,12}")
ID_DIGITS = re.compile(r"[0-9]{1,12}")
AMOUNT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,6})?")
"""Digits are ASCII only: Python's `int` and `Decimal` also take Arabic-Indic, full-width and
other Unicode digits, which a user never means as an id or an amount."""
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
ACCEPTED_DATE = "YYYY-MM-DD or ISO 8601 date-time"
FIRST_YEAR, LAST_YEAR = 1900, 2999
MAX_EMAIL, MAX_EMAIL_LOCAL_PART = 254, 64
MAX_DURATION = timedelta(days=36500)
HOURS_PER_UNIT = {"h": 1, "d": 24, "w": 24 * 7, "m": 24 * 30}


def parse_date(field: str, text: str, tz: ZoneInfo) -> datetime:
    """A date (midnight in `tz`) or an ISO 8601 date-time (naive = `tz`), as aware UTC."""
    value = (text or "").strip()
    if not value:
        raise InvalidInput(field, f"a date is required ({ACCEPTED_DATE})")
    try:
        if len(value) == 10:
            moment = datetime.combine(date.fromisoformat(value), time(0, 0))
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not a valid date ({ACCEPTED_DATE})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    try:
        years = {moment.year, as_utc(moment).year, moment.astimezone(tz).year}
    except OverflowError:
        years = {0}
    if not all(FIRST_YEAR <= year <= LAST_YEAR for year in years):
        raise InvalidInput(field, f"{value!r} is out of range ({FIRST_YEAR}-01-01 to {LAST_YEAR}-12-31, in UTC and in {getattr(tz, 'key', tz)})")
    return as_utc(moment)


def parse_money(field: str, text: str | Decimal | int, *, allow_negative: bool = False) -> Decimal:
    """A non-negative amount with at most two decimals."""
    raw = str(text).strip()
    if not AMOUNT.fullmatch(raw):
        raise InvalidInput(field, f"{raw!r} is not an amount (a number such as 12.00)")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise InvalidInput(field, f"{raw!r} is not an amount (a number such as 12.00)") from None
    if amount < 0 and not allow_negative:
        raise InvalidInput(field, f"{raw} is negative (0 or more is accepted)")
    if abs(amount) > MAX_MONEY:
        raise InvalidInput(field, f"{raw} is too large (at most {MAX_MONEY})")
    if amount != amount.quantize(CENT):
        raise InvalidInput(field, f"{raw} has more than two decimals")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_int(field: str, text: str | int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = str(text).strip()
    if not WHOLE_NUMBER.fullmatch(raw):
        raise InvalidInput(field, f"{raw!r} is not a whole number (digits 0-9)")
    value = int(raw)
    if minimum is not None and value < minimum:
        raise InvalidInput(field, f"{value} is too small (at least {minimum})")
    if maximum is not None and value > maximum:
        raise InvalidInput(field, f"{value} is too large (at most {maximum})")
    return value


def looks_like_id(text: str | int) -> bool:
    """True when `text` can be taken as an id (what `parse_id` accepts, zero aside)."""
    raw = str(text).strip()
    return ID_DIGITS.fullmatch(raw) is not None and int(raw) <= MAX_ID


def parse_id(field: str, text: str | int) -> int:
    raw = str(text).strip()
    if not ID_DIGITS.fullmatch(raw) or not 0 < int(raw) <= MAX_ID:
        raise InvalidInput(field, f"{raw!r} is not an id (a whole number from 1 to {MAX_ID})")
    return int(raw)


def parse_optional_int(field: str, text: str | int | None, *, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """A whole number (that fits an INTEGER column), or None for '' / 'none' / 'unlimited'."""
    if text is None or str(text).strip().lower() in {"", "none", "unlimited", "null"}:
        return None
    return parse_int(field, text, minimum=minimum, maximum=maximum)


def parse_cycle(field: str, text: str) -> BillingCycle:
    value = (text or "").strip().lower().replace("-", "").replace("_", "")
    aliases = {"semiannual": "semiannually", "yearly": "annually", "annual": "annually", "onetime": "onetime"}
    value = aliases.get(value, value)
    try:
        return BillingCycle(value)
    except ValueError:
        accepted = ", ".join(cycle.value for cycle in BillingCycle)
        raise InvalidInput(field, f"{text!r} is not a billing cycle (accepted: {accepted})") from None


def parse_email(field: str, text: str) -> str:
    value = (text or "").strip()
    if len(value) > MAX_EMAIL or not EMAIL_PATTERN.match(value):
        raise InvalidInput(field, f"{_clip(value)!r} is not an email address (name@example.com, at most {MAX_EMAIL} characters)")
    if len(value.partition("@")[0]) > MAX_EMAIL_LOCAL_PART:
        raise InvalidInput(field, f"{_clip(value)!r}: the part before @ is longer than {MAX_EMAIL_LOCAL_PART} characters")
    return value.lower()


def _clip(text: str, length: int = 80) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def parse_text(field: str, text: str | None, *, required: bool = False, max_length: int = 200) -> str | None:
    """Free text stored as given (escape sequences included); only NUL and length are refused."""
    if text is None:
        if required:
            raise InvalidInput(field, "a value is required")
        return None
    if "\x00" in text:
        raise InvalidInput(field, "NUL characters are not accepted")
    if required and not text.strip():
        raise InvalidInput(field, "a value is required")
    if len(text) > max_length:
        raise InvalidInput(field, f"too long ({len(text)} characters; at most {max_length})")
    return text


def parse_bool(field: str, text: str | bool) -> bool:
    if isinstance(text, bool):
        return text
    value = str(text).strip().lower()
    if value in {"true", "yes", "on", "1"}:
        return True
    if value in {"false", "no", "off", "0"}:
        return False
    raise InvalidInput(field, f"{text!r} is not a yes/no value (true or false)")


def parse_duration(field: str, text: str) -> timedelta:
    """A span such as `7d`, `12h`, `2w` or `1m` (30 days); a bare number is days."""
    match = DURATION_PATTERN.match(text or "")
    if not match:
        raise InvalidInput(field, f"{text!r} is not a duration (such as 7d, 12h, 2w)")
    digits, unit = match.group(1).lstrip("0") or "0", match.group(2) or "d"
    hours = int(digits) * HOURS_PER_UNIT[unit] if len(digits) <= 12 else None
    if hours is None or hours > MAX_DURATION / timedelta(hours=1):
        raise InvalidInput(field, f"{text!r} is too long (at most 36500d, 100 years)")
    return timedelta(hours=hours)


def parse_key_values(field: str, pairs: list[str] | None) -> dict[str, str]:
    """`KEY=VALUE` pairs into a dict (later keys win)."""
    result: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(field, f"{pair!r} is not KEY=VALUE")
        result[key.strip()] = value
    return result


def parse_timezone(field: str, text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text.strip())
    except (ValueError, KeyError, OSError):
        raise InvalidInput(field, f"{text!r} is not a time zone (such as UTC or Europe/Paris)") from None


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: str | None) -> str:
    """`text` on one line with control and bidi-override characters shown as escapes.

    Terminals would act on them; the stored value is unchanged.
    """
    if not text:
        return ""
    return CONTROL_CHARACTERS.sub(_escape, text)


def parse_domain(field: str, text: str | None) -> str | None:
    """A host name as given (IDNA: `bücher.example` is kept as typed); empty or `none` is no domain."""
    value = (text or "").strip()
    if not value or value.lower() == "none":
        return None
    if CONTROL_CHARACTERS.search(value):
        raise InvalidInput(field, "control characters are not accepted (a host name such as example.com)")
    try:
        domains.ascii_form(value)
    except ValueError as error:
        raise InvalidInput(field, f"{_clip(value)!r} is not a host name: {error} (e.g. example.com or bücher.example)") from None
    return value.rstrip(".")
