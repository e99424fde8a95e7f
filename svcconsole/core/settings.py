"""The settings registry (SPEC.md section 7): every key, its type, default and validation.

The code, `settings list` and the automation dry run all read this one registry; each key
names the automation steps that read it (`steps`), which is what the run shows as the
settings in force.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from svcconsole.core import i18n, parse
from svcconsole.core.errors import InvalidInput, NotFound
from svcconsole.core.operators import Actor, require
from svcconsole.core.secrets import decrypt, encrypt
from svcconsole.core.statuses import NON_TRANSITION_ROLES
from svcconsole.store.models import Setting


def _day_count(field: str, text: str) -> int:
    return parse.parse_int(field, text, minimum=0, maximum=3650)


def _day_list(field: str, text: str) -> tuple[int, ...]:
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    days = tuple(sorted({parse.parse_int(field, item, minimum=0, maximum=3650) for item in items}, reverse=True))
    return days


def _currency(field: str, text: str) -> str:
    value = str(text).strip().upper()
    if len(value) != 3 or not value.isalpha():
        raise InvalidInput(field, f"{text!r} is not a currency code (three letters such as EUR)")
    return value


def _minutes(field: str, text: str) -> int:
    return parse.parse_int(field, text, minimum=1, maximum=100000)


def _timezone(field: str, text: str) -> str:
    return parse.parse_timezone(field, text).key


def _port(field: str, text: str) -> int:
    return parse.parse_int(field, text, minimum=1, maximum=65535)


def _plain(field: str, text: str) -> str:
    return parse.parse_text(field, str(text), max_length=500) or ""


def _optional_email(field: str, text: str) -> str:
    return parse.parse_email(field, text) if str(text).strip() else ""


SENDER_ADDRESS = r"[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?"
SENDER_PATTERN = re.compile(rf"^(?:{SENDER_ADDRESS}|[^<>\",;]{{0,200}}<{SENDER_ADDRESS}>)$")


def _sender(field: str, text: str) -> str:
    value = str(text).strip()
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise InvalidInput(field, "line breaks and control characters are not accepted in the sender address")
    if len(value) > 320 or not SENDER_PATTERN.match(value):
        raise InvalidInput(field, f"{value!r} is not an email address (billing@example.com or Billing <billing@example.com>)")
    return value


ALL_STEPS = (0, 1, 2, 3, 4, 5, 6, 7)
MAIL_STEPS = (7,)


DRIFT_KINDS = ("orphan", "missing", "status", "build", "owner", "duplicate")
"""The kinds of drift reconcile reports (scripts rely on these names)."""
AUTO_APPLIED_KINDS = ("orphan", "missing", "status", "build")
"""The kinds a fix may be applied for without naming a service (never owner or duplicate)."""
RECONCILE_STEP = 8
USAGE_STEP = 9
"""The automation step that reads the metered services' usage from their panels (real clock)."""


def _source(field: str, text: str) -> str:
    value = text.strip().lower()
    if value not in ("billing", "panel"):
        raise InvalidInput(field, f"{text!r} is not a source (billing or panel)")
    return value


def _hours(field: str, text: str) -> int:
    return parse.parse_int(field, text, minimum=0, maximum=24 * 366)


def _kind_list(field: str, text: str) -> tuple[str, ...]:
    kinds = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    wrong = [kind for kind in kinds if kind not in AUTO_APPLIED_KINDS]
    if wrong:
        raise InvalidInput(field, f"{wrong[0]!r} cannot be applied automatically (use {', '.join(AUTO_APPLIED_KINDS)}, comma-separated, or nothing)")
    return kinds


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its key, default (as text), parser, whether it is a secret, and the automation steps that read it."""

    key: str
    default: str
    parser: Callable[[str, str], Any]
    help: str
    secret: bool = False
    steps: tuple[int, ...] = ()

    def parse(self, text: str) -> Any:
        return self.parser(f"setting {self.key}", text)

    def render(self, value: Any) -> str:
        if isinstance(value, tuple):
            return ",".join(str(item) for item in value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


REGISTRY: dict[str, SettingSpec] = {
    spec.key: spec
    for spec in (
        SettingSpec("invoice_generation_days", "7", _day_count, "Days before expiry that renewal invoices are created (recurring cycles only).", steps=(1,)),
        SettingSpec("expiry_notice_days", "7,3,1", _day_list, "Days before expiry that expiry notices are sent (recurring cycles only).", steps=(2,)),
        SettingSpec(
            "suspend_after_days",
            "0",
            _day_count,
            "Days past expiry before an unpaid recurring service is suspended (onetime and free are never overdue).",
            steps=(3,),
        ),
        SettingSpec(
            "terminate_after_days",
            "7",
            _day_count,
            "Days after the expiry (the unpaid period, not the suspension) before a recurring service suspended as overdue expires (removed from its panel).",
            steps=(3, 4),
        ),
        SettingSpec("delete_after_days", "90", _day_count, "Days after expiry or cancellation before it is hidden (0 = never).", steps=(6,)),
        SettingSpec("renewal_grace_days", "7", _day_count, "Days after expiry during which a service can still be renewed.", steps=(0, 1, 3)),
        SettingSpec("timezone", "UTC", _timezone, "Time zone for dates shown and typed.", steps=ALL_STEPS),
        SettingSpec("currency", "EUR", _currency, "Default currency."),
        SettingSpec("default_locale", "en", i18n.parse_locale, "Language of the customer area and customer mails for a customer without their own (en or fr)."),
        SettingSpec("smtp_host", "", _plain, "SMTP server host (empty = mail is queued, not sent).", steps=MAIL_STEPS),
        SettingSpec("smtp_port", "25", _port, "SMTP server port.", steps=MAIL_STEPS),
        SettingSpec("smtp_user", "", _plain, "SMTP login (empty = no authentication; needs smtp_starttls unless the host is loopback).", steps=MAIL_STEPS),
        SettingSpec(
            "smtp_password",
            "",
            _plain,
            "SMTP password (stored encrypted, never shown; `settings set smtp_password -` reads it from stdin).",
            secret=True,
            steps=MAIL_STEPS,
        ),
        SettingSpec(
            "smtp_from", "billing@localhost", _sender, "Sender address of notifications (an email address, optionally as Name <address>).", steps=(0, 7)
        ),
        SettingSpec("smtp_starttls", "false", parse.parse_bool, "Use STARTTLS.", steps=MAIL_STEPS),
        SettingSpec("admin_email", "", _optional_email, "Where admin notices (failed deliveries, health alerts) are sent.", steps=(0, 7)),
        SettingSpec(
            "reconcile_every_hours", "24", _hours, "Hours between two reconciles of a server by the automation run (0 = never).", steps=(RECONCILE_STEP,)
        ),
        SettingSpec(
            "reconcile_status_source",
            "billing",
            _source,
            "Which side is right when a service is suspended on one side only: billing (suspend or unsuspend on the panel) or panel (change billing).",
            steps=(RECONCILE_STEP,),
        ),
        SettingSpec(
            "reconcile_build_source",
            "billing",
            _source,
            "Which side is right when the panel's limits differ from the product's: billing (apply the product again) or panel (keep the panel's).",
            steps=(RECONCILE_STEP,),
        ),
        SettingSpec(
            "reconcile_auto_apply",
            "",
            _kind_list,
            "Drift kinds the automation run fixes on its own (orphan, missing, status, build; empty = it only reports).",
            steps=(RECONCILE_STEP,),
        ),
        SettingSpec(
            "order_approval",
            "false",
            parse.parse_bool,
            "Paid orders wait in pending, awaiting approval, until an admin approves them (`orders approve`) before delivery.",
            steps=(0,),
        ),
        SettingSpec(
            "abuse_limit",
            "0",
            _day_count,
            "Open abuse reports at which an active service is suspended at once, kind abuse (0 = never).",
        ),
        SettingSpec("health_max_run_age_minutes", "30", _minutes, "Minutes since the last automation run finished before `svcconsole health` says it stopped."),
    )
}


def used_by_automation() -> list[str]:
    """The keys some automation step reads, in registry order (the run's settings in force)."""
    return [key for key, item in REGISTRY.items() if item.steps]


def spec(key: str) -> SettingSpec:
    try:
        return REGISTRY[key]
    except KeyError:
        raise NotFound(f"setting: unknown key {key!r} (known: {', '.join(REGISTRY)})") from None


class Settings:
    """The settings in force, read once from the store and parsed.

    A stored value the registry no longer accepts (one saved before a check was added) does
    not stop everything else: the default is in force and `invalid` names the key and why.
    """

    def __init__(self, stored: dict[str, str]) -> None:
        self._values: dict[str, Any] = {}
        self.overridden: set[str] = set()
        self.invalid: dict[str, str] = {}
        for key, item in REGISTRY.items():
            text = stored.get(key)
            if text is not None:
                self.overridden.add(key)
                if item.secret:
                    text = decrypt(text) or ""
                try:
                    self._values[key] = item.parse(text)
                    continue
                except InvalidInput as error:
                    self.invalid[key] = error.message
            self._values[key] = item.parse(item.default)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self._values["timezone"])

    def display(self, key: str) -> str:
        item = REGISTRY[key]
        if item.secret:
            return "(set)" if self._values[key] else "(not set)"
        return item.render(self._values[key])


def load(session: Session) -> Settings:
    rows = session.exec(select(Setting)).all()
    return Settings({row.key: row.value for row in rows})


def set_value(session: Session, actor: Actor, key: str, text: str) -> Any:
    """Validate and store one setting (admins only); returns the parsed value."""
    require(actor, NON_TRANSITION_ROLES["settings"], "changing settings")
    item = spec(key)
    value = item.parse(text)
    stored = item.render(value)
    if item.secret:
        stored = encrypt(stored)
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=stored))
    else:
        row.value = stored
    return value


def unset_value(session: Session, actor: Actor, key: str) -> None:
    """Return a setting to its default (admins only)."""
    require(actor, NON_TRANSITION_ROLES["settings"], "changing settings")
    spec(key)
    row = session.get(Setting, key)
    if row is not None:
        session.delete(row)
