"""Mail templates as files: one per template and locale, rendered by Jinja2's sandbox.

The built-in templates ship in `svcconsole/templates/mail/<locale>/<name>.txt`; an admin's file
at `<config dir>/templates/mail/<locale>/<name>.txt` wins over the built-in of the same name
(`svcconsole.core.paths.config_dir`). A locale without its own file of that name reads the
English one. Files whose name starts with `_` are pieces that others `{% include %}`.

A template's first line is `Subject: ...`; the body follows the blank line after it. Text mail
is not escaped (autoescape off); a variable the context does not hold is an error
(StrictUndefined); the sandbox refuses `_`-attributes and unsafe calls. Filters: `date` (a
date in the locale's format), `money` (a `Money` in the locale's format), `cycle` (a billing
cycle's name in the locale).

Any error in an admin's file (syntax, undefined variable, sandbox violation) is logged as one
line naming the file and line, and the built-in template is used instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateNotFound, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from svcconsole.core.paths import config_dir

log = logging.getLogger("svcconsole.mail")

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "templates" / "mail"
FALLBACK_LOCALE = "en"
SUBJECT_PREFIX = "Subject:"

DATE_FORMATS = {"en": "yyyy-MM-dd", "fr": "long"}
"""Babel date formats per locale: English mails keep ISO dates (2026-11-26), French ones read "26 novembre 2026" (and "1er décembre 2026")."""
MONEY_FORMATS: dict[str, str | None] = {"en": "0.00 ¤¤", "fr": None}
"""Babel currency formats per locale: English keeps "12.00 EUR"; None is the locale's own ("12,00 €")."""
CYCLE_NAMES = {
    "fr": {
        "weekly": "hebdomadaire",
        "monthly": "mensuel",
        "quarterly": "trimestriel",
        "semiannually": "semestriel",
        "annually": "annuel",
        "biennially": "biannuel",
        "triennially": "triennal",
        "onetime": "paiement unique",
        "free": "gratuit",
    },
}
"""Billing cycles in words, per locale (ClientXCMS's French guide: Mensuel, Trimestriel, ... Biannuel); English uses the cycle's own name."""


@dataclass(frozen=True)
class Money:
    """An amount in a currency, formatted by the `money` filter for the mail's locale."""

    amount: Decimal
    currency: str


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    body: str
    source: str
    """The file the mail was rendered from."""
    problem: str | None = None
    """The one-line error of an admin's file that was set aside for the built-in one."""


class MailTemplateError(Exception):
    """A template that cannot be rendered, as one line: `file:line: what is wrong`."""

    def __init__(self, filename: str, line: int | None, what: str) -> None:
        self.filename = filename
        self.line = line
        where = f"{filename}:{line}" if line else filename
        super().__init__(f"{where}: {' '.join(what.split()).rstrip('.')}")


def override_dir() -> Path:
    """Where an admin's templates live: `<config dir>/templates/mail`."""
    return config_dir() / "templates" / "mail"


def template_names() -> list[str]:
    """Every built-in template (the English set is complete), pieces left out."""
    return sorted(path.stem for path in (BUILTIN_DIR / FALLBACK_LOCALE).glob("*.txt") if not path.name.startswith("_"))


def render(name: str, locale: str, context: Mapping[str, Any]) -> RenderedMail:
    """`name` rendered for `locale` with `context`: the admin's file if there is one and it works, else the built-in."""
    locale = locale if locale in DATE_FORMATS else FALLBACK_LOCALE
    overrides = override_dir()
    signature = _signature(overrides, locale)
    if not signature:
        return _render(_environment(locale, None, ()), name, context)
    try:
        return _render(_environment(locale, str(overrides), signature), name, context)
    except MailTemplateError as problem:
        if str(problem) not in _reported:
            _reported.add(str(problem))
            log.warning("%s; the built-in template is used", problem)
        return replace(_render(_environment(locale, None, ()), name, context), problem=str(problem))


_reported: set[str] = set()
"""The errors logged already: a broken file is logged once per process, not once per mail (each mail still carries it as `problem`)."""


def _signature(overrides: Path, locale: str) -> tuple[tuple[str, int], ...]:
    """The admin's files that could take part (name and mtime), so an edited or new file is read again."""
    found: list[tuple[str, int]] = []
    for folder in {overrides / locale, overrides / FALLBACK_LOCALE}:
        if folder.is_dir():
            found.extend((str(path), path.stat().st_mtime_ns) for path in folder.glob("*.txt"))
    return tuple(sorted(found))


@lru_cache(maxsize=16)
def _environment(locale: str, overrides: str | None, signature: tuple[tuple[str, int], ...]) -> MailEnvironment:
    """The sandbox for `locale` reading the admin's folder first (when given), then the built-ins; English fills gaps."""
    locales = [locale] if locale == FALLBACK_LOCALE else [locale, FALLBACK_LOCALE]
    roots = [Path(overrides)] if overrides else []
    roots.append(BUILTIN_DIR)
    search = [str(root / code) for code in locales for root in roots]
    environment = MailEnvironment(
        loader=FileSystemLoader(search, encoding="utf-8"),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    environment.filters.update(_filters(locale))
    environment.mails = {}
    return environment


def _filters(locale: str) -> dict[str, Callable[..., str]]:
    def date_filter(value: date | datetime | str | None) -> str:
        if value is None:
            return "-"
        if isinstance(value, str):
            return value
        day = value.date() if isinstance(value, datetime) else value
        text = format_date(day, DATE_FORMATS[locale], locale=locale)
        return "1er" + text[1:] if locale == "fr" and day.day == 1 else text

    def money_filter(value: Money | str | None) -> str:
        if value is None:
            return "-"
        if isinstance(value, str):
            return value
        return format_currency(value.amount, value.currency, format=MONEY_FORMATS[locale], locale=locale, currency_digits=False)

    def cycle_filter(value: str) -> str:
        return CYCLE_NAMES.get(locale, {}).get(value, value)

    return {"date": date_filter, "money": money_filter, "cycle": cycle_filter}


class MailEnvironment(SandboxedEnvironment):
    """The sandbox, with each mail's subject and body templates compiled once."""

    mails: dict[str, tuple[Template, Template, str]]


def _compiled(environment: MailEnvironment, name: str) -> tuple[Template, Template, str]:
    """The subject line's template, the body's (its lines numbered as in the file) and the file's path.

    The two are compiled apart so that a value with a line break cannot move text from the subject into the body.
    """
    filename = f"{name}.txt"
    if filename in environment.mails:
        return environment.mails[filename]
    assert environment.loader is not None
    try:
        source, path, _ = environment.loader.get_source(environment, filename)
    except TemplateNotFound as error:
        raise MailTemplateError(filename, None, f"no template {error.name}") from None
    path = path or filename
    first, _, rest = source.partition("\n")
    if not first.startswith(SUBJECT_PREFIX):
        raise MailTemplateError(path, 1, f"the first line must be '{SUBJECT_PREFIX} ...'")
    try:
        parts = tuple(
            environment.template_class.from_code(environment, environment.compile(text, filename, path), environment.make_globals(None))
            for text in (first[len(SUBJECT_PREFIX) :].strip(), "\n" + rest)
        )
    except TemplateSyntaxError as error:
        raise MailTemplateError(error.filename or path, error.lineno, error.message or "syntax error") from None
    environment.mails[filename] = (parts[0], parts[1], path)
    return environment.mails[filename]


def _render(environment: MailEnvironment, name: str, context: Mapping[str, Any]) -> RenderedMail:
    subject_template, body_template, source = _compiled(environment, name)
    values = dict(context)
    try:
        subject = subject_template.render(values)
        body = body_template.render(values)
    except TemplateSyntaxError as error:  # an included piece that does not parse
        raise MailTemplateError(error.filename or source, error.lineno, error.message or "syntax error") from None
    except Exception as error:  # noqa: BLE001 - a template is the admin's code: whatever it raises (undefined, sandbox, a filter's TypeError) is reported as its file and line
        at_file, at_line = _template_frame(error.__traceback__, source)
        raise MailTemplateError(at_file, at_line, f"{type(error).__name__}: {error}") from None
    body = body.removeprefix("\n").removeprefix("\n")
    return RenderedMail(subject=subject, body=body, source=source)


def _template_frame(trace: TracebackType | None, source: str) -> tuple[str, int | None]:
    """The innermost template frame of a render error (Jinja rewrites them to the file and line of the template)."""
    found: tuple[str, int | None] = (source, None)
    while trace is not None:
        filename = trace.tb_frame.f_code.co_filename
        if filename.endswith(".txt"):
            found = (filename, trace.tb_lineno)
        trace = trace.tb_next
    return found
