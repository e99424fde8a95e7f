"""Sending the outbox by SMTP (settings `smtp_*`): STARTTLS and login when configured.

One sender at a time: a send holds the `mailer` lease (`core.leases.NamedLock`), renews it as
it goes and stops if it ever loses it, so a second send at once finds it held and sends
nothing. The queue is read a page at a time (`PAGE`). Each mail is marked `sending` in its own
transaction just before the SMTP call, and only if it is still `queued` (so a mail dropped after
its page was read, the invoice it announces cancelled meanwhile, is not sent), then `sent` once the
server accepted it. A sender that dies between the two leaves the mail `sending`: the next send,
holding the lease, sends it again with the same Message-ID (derived from the mail's id and
creation time), so a crash can at worst deliver it twice under one id, never lose it.

A mail that is not sent:

- refused by the server (its reply to RCPT or DATA): one attempt is counted and the mail stays
  queued with the error; it is marked `failed` after `MAX_ATTEMPTS` permanent (5xx) refusals;
- caught in a connection-level error (the server cannot be reached, drops the connection,
  answers 421, refuses the sender or the login): the mail being sent is charged one attempt
  and keeps the error, the send stops there, and the mails after it are left as they were.
  A connection error never makes a mail `failed`, however long the server is down;
- that cannot be built (an address with a line break): `failed` at once.

A configuration that cannot work (an invalid `smtp_from`, a login without TLS to a host that
is not loopback) sends nothing and charges nothing.
"""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from svcconsole.core import clock, leases
from svcconsole.core import settings as settings_module
from svcconsole.core.errors import SvcError
from svcconsole.store.engine import Database
from svcconsole.store.models import Notification

MAX_ATTEMPTS = 10
TIMEOUT_SECONDS = 15
PAGE = 200
LOCK_NAME = "mailer"
CONNECTION_CLOSING = 421
SENDING = "sending"
WAITING = ("queued", SENDING)
"""A mail still to send: queued, or left `sending` by a sender that died before the server's answer."""

KeepAlive = Callable[[], bool]


@dataclass
class SendItem:
    """What happened to one mail."""

    notification_id: int
    service_id: int | None
    outcome: str
    message: str


@dataclass
class SendReport:
    """A send run: every mail tried, why none was, or why it stopped early."""

    items: list[SendItem] = field(default_factory=list)
    not_sent_reason: str | None = None
    unconfigured: bool = False
    misconfigured: bool = False
    stopped: str | None = None

    def count(self, outcome: str) -> int:
        """How many mails ended with `outcome` (ok, retry or failed)."""
        return sum(1 for item in self.items if item.outcome == outcome)

    def summary(self) -> str:
        """One line: how many were sent, kept queued or failed for good, and why the send stopped."""
        if self.not_sent_reason:
            return f"notify: {self.not_sent_reason}"
        if not self.items and not self.stopped:
            return "notify: no queued notifications"
        parts = [
            f"{self.count(outcome)} {label}"
            for outcome, label in (("ok", "sent"), ("retry", "kept queued"), ("failed", "failed for good"))
            if self.count(outcome)
        ]
        line = f"notify: {len(self.items)} tried: {', '.join(parts) or 'none'}"
        return f"{line}; {self.stopped}" if self.stopped else line


def build_message(notification: Notification, sender: str) -> EmailMessage:
    """The notification as a plain-text mail."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = notification.to_address
    mail["Subject"] = " ".join(notification.subject.split())
    mail["Date"] = format_datetime(clock.now())
    mail["Message-ID"] = message_id(notification, sender)
    mail.set_content(notification.body)
    return mail


def message_id(notification: Notification, sender: str) -> str:
    """The mail's Message-ID, the same at every send of it, so a mail sent again after a crash is known as the same mail."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "svcconsole.invalid"
    created = clock.as_utc(notification.created_at).strftime("%Y%m%d%H%M%S")
    return f"<svcconsole.{notification.id}.{created}@{domain}>"


def tls_context() -> ssl.SSLContext:
    """The context STARTTLS verifies the server with (the system's trusted CAs)."""
    return ssl.create_default_context()


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (no name is looked up)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def config_problem(settings: settings_module.Settings) -> str | None:
    """Why the SMTP settings cannot be used as they are, or None."""
    if "smtp_from" in settings.invalid:
        return f"{settings.invalid['smtp_from']}; fix it with `settings set smtp_from ADDRESS`"
    host = settings["smtp_host"]
    if settings["smtp_user"] and not settings["smtp_starttls"] and not is_loopback(host):
        return (
            f"refusing to log in to {host}:{settings['smtp_port']} as {settings['smtp_user']!r} without TLS: "
            "the password would cross the network in clear; set smtp_starttls true (a login without TLS is only allowed to a loopback host)"
        )
    return None


def open_connection(settings: settings_module.Settings) -> smtplib.SMTP:
    """A connection to the configured server, upgraded by STARTTLS and logged in as configured."""
    problem = config_problem(settings)
    if problem:
        raise SvcError(f"smtp: {problem}")
    connection = smtplib.SMTP(settings["smtp_host"], settings["smtp_port"], timeout=TIMEOUT_SECONDS)
    try:
        connection.ehlo()
        if settings["smtp_starttls"]:
            connection.starttls(context=tls_context())
            connection.ehlo()
        if settings["smtp_user"]:
            connection.login(settings["smtp_user"], settings["smtp_password"])
    except BaseException:
        connection.close()
        raise
    return connection


def _queued_page(db: Database, after: int, limit: int) -> list[Notification]:
    with db.read() as session:
        query = select(Notification).where(col(Notification.status).in_(WAITING), col(Notification.id) > after).order_by(col(Notification.id)).limit(limit)
        return list(session.exec(query).all())


def _queued_count(db: Database) -> int:
    with db.read() as session:
        return int(session.exec(select(func.count()).select_from(Notification).where(Notification.status.in_(WAITING))).one())  # type: ignore[attr-defined]


def _mark_sending(db: Database, notification_id: int) -> bool:
    """Mark the mail `sending` before its SMTP call if it still waits; False when it was dropped, sent or failed meanwhile."""

    def work(session: Session) -> bool:
        result = session.execute(
            update(Notification).where(Notification.id == notification_id, Notification.status.in_(WAITING)).values(status=SENDING)  # type: ignore[arg-type,attr-defined]
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    return db.transaction(work)


def _mark_sent(db: Database, notification_id: int) -> bool:
    """Mark the mail sent once the server accepted it; False when someone else settled it meanwhile."""

    def work(session: Session) -> bool:
        result = session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.status == SENDING)  # type: ignore[arg-type]
            .values(status="sent", sent_at=clock.now(), attempts=Notification.attempts + 1, last_error=None)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult; execute() is typed as Result

    return db.transaction(work)


def _charge(db: Database, notification_id: int, error: str, *, may_fail: bool, final: bool) -> str | None:
    """Count one attempt on a queued mail with its error; its status after, or None if it is no longer queued."""

    def work(session: Session) -> str | None:
        row = session.exec(select(Notification).where(Notification.id == notification_id, Notification.status.in_(WAITING)).with_for_update()).first()  # type: ignore[attr-defined]
        if row is None:
            return None
        row.attempts = (row.attempts or 0) + 1
        row.last_error = error[:2000]
        row.status = "failed" if final or (may_fail and row.attempts >= MAX_ATTEMPTS) else "queued"
        session.add(row)
        return row.status

    return db.transaction(work)


def _where(settings: settings_module.Settings) -> str:
    return f"{settings['smtp_host']}:{settings['smtp_port']}"


def _reply(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _error_text(error: BaseException, settings: settings_module.Settings) -> str:
    where = _where(settings)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{address}: {code} {_reply(reply)}" for address, (code, reply) in error.recipients.items())
        return f"{where} refused the recipient: {refused}"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{where} answered {error.smtp_code} {_reply(error.smtp_error)}"
    if isinstance(error, (ConnectionError, socket.timeout, socket.gaierror, OSError)):
        return f"cannot reach {where}: {type(error).__name__}: {error}"
    return f"{where}: {type(error).__name__}: {error}"


def _refusal_codes(error: BaseException) -> list[int] | None:
    """The reply codes when the server refused this one mail (RCPT or DATA); None for a connection-level error."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [int(code) for code, _ in error.recipients.values()]
    elif isinstance(error, smtplib.SMTPDataError):
        codes = [int(error.smtp_code)]
    else:
        return None
    return None if CONNECTION_CLOSING in codes else codes


def send_queued(db: Database, *, limit: int | None = None, keep_alive: KeepAlive | None = None) -> SendReport:
    """Send queued notifications (at most `limit`); failures stay queued with their error.

    `keep_alive` is called between mails (the automation renews its own lock with it); when
    it returns False the send stops.
    """
    report = SendReport()
    with db.read() as session:
        settings = settings_module.load(session)
    if not settings["smtp_host"]:
        waiting = _queued_count(db)
        report.not_sent_reason = f"smtp_host is not set: {waiting} notification{'s' if waiting != 1 else ''} stay queued"
        report.unconfigured = True
        return report
    problem = config_problem(settings)
    if problem:
        waiting = _queued_count(db)
        report.not_sent_reason = f"{problem}; {waiting} notification{'s' if waiting != 1 else ''} stay queued"
        report.misconfigured = True
        return report
    lock = leases.NamedLock(db, LOCK_NAME)
    if not lock.acquire():
        report.not_sent_reason = f"another send is running ({lock.held_by}); nothing sent"
        return report
    try:
        _send(db, settings, report, limit, lambda: _still_held(lock, keep_alive, report))
    finally:
        lock.release()
    return report


def _still_held(lock: leases.NamedLock, keep_alive: KeepAlive | None, report: SendReport) -> bool:
    if not lock.keep_alive():
        report.stopped = f"stopped: the mailer lease was taken over by {lock.lost_to}"
        return False
    if keep_alive is not None and not keep_alive():
        report.stopped = "stopped: the run that sends lost its lock"
        return False
    return True


def _left(report: SendReport, limit: int | None) -> int | None:
    return None if limit is None else limit - len(report.items)


def _send(db: Database, settings: settings_module.Settings, report: SendReport, limit: int | None, held: Callable[[], bool]) -> None:
    after = 0
    connection: smtplib.SMTP | None = None
    try:
        while (left := _left(report, limit)) != 0:
            rows = _queued_page(db, after, PAGE if left is None else min(PAGE, left))
            if not rows:
                return
            after = rows[-1].id or 0
            for row in rows:
                if not held():
                    return
                if not _mark_sending(db, row.id or 0):
                    continue
                try:
                    mail = build_message(row, settings["smtp_from"])
                except ValueError as error:
                    _record(db, report, row, f"cannot be sent: {error}", may_fail=True, final=True)
                    continue
                try:
                    if connection is None:
                        connection = open_connection(settings)
                    connection.send_message(mail)
                except (smtplib.SMTPException, OSError) as error:
                    codes = _refusal_codes(error)
                    if codes is not None:
                        _record(db, report, row, _error_text(error, settings), may_fail=all(code >= 500 for code in codes), final=False)
                        continue
                    text = _error_text(error, settings)
                    _record(db, report, row, text, may_fail=False, final=False)
                    report.stopped = f"stopped after a connection error ({text}); the mails after it were not tried"
                    return
                _mark_sent(db, row.id or 0)
                report.items.append(SendItem(row.id or 0, row.service_id, "ok", f"mail {row.id} sent to {row.to_address}: {row.subject}"))
    finally:
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()


def _record(db: Database, report: SendReport, row: Notification, error: str, *, may_fail: bool, final: bool) -> None:
    status = _charge(db, row.id or 0, error, may_fail=may_fail, final=final)
    if status is None:
        return
    failed = status == "failed"
    note = ("failed for good" if final else f"failed for good after {MAX_ATTEMPTS} attempts") if failed else "kept queued"
    report.items.append(SendItem(row.id or 0, row.service_id, "failed" if failed else "retry", f"mail {row.id} to {row.to_address!r} {note}: {error}"))


def list_notifications(session: Session, *, status: str | None = None, limit: int = 100, before: int | None = None) -> list[Notification]:
    """The outbox, newest first (older than id `before` when given)."""
    query = select(Notification)
    if before is not None:
        query = query.where(Notification.id < before)  # type: ignore[operator]
    if status:
        query = query.where(Notification.status == status)
    return list(session.exec(query.order_by(col(Notification.id).desc()).limit(limit)).all())
