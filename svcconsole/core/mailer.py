"""Sending the outbox by SMTP (settings `smtp_*`): STARTTLS and login when configured.

Each mail is marked sent in its own transaction right after the server accepted it. A mail
the server refuses, or every mail when the server cannot be reached, stays `queued` with its
error and one more attempt counted, and is tried again by the next send; after
`MAX_ATTEMPTS` it is marked `failed`, as is at once a mail that cannot be built (an address
with a line break). One sender at a time (the `mailer` lock), so two sends
at once never mail anything twice.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlmodel import Session, select

from svcconsole.core import clock
from svcconsole.core import settings as settings_module
from svcconsole.store.engine import Database
from svcconsole.store.models import Notification

MAX_ATTEMPTS = 10
TIMEOUT_SECONDS = 15
PAGE = 200


@dataclass
class SendItem:
    """What happened to one mail."""

    notification_id: int
    service_id: int | None
    outcome: str
    message: str


@dataclass
class SendReport:
    """A send run: every mail tried, or why none was."""

    items: list[SendItem] = field(default_factory=list)
    not_sent_reason: str | None = None
    unconfigured: bool = False

    def count(self, outcome: str) -> int:
        """How many mails ended with `outcome` (ok, retry or failed)."""
        return sum(1 for item in self.items if item.outcome == outcome)

    def summary(self) -> str:
        """One line: how many were sent, kept queued or failed for good."""
        if self.not_sent_reason:
            return f"notify: {self.not_sent_reason}"
        if not self.items:
            return "notify: no queued notifications"
        parts = [f"{self.count(outcome)} {label}" for outcome, label in (("ok", "sent"), ("retry", "kept queued"), ("failed", "failed for good")) if self.count(outcome)]
        return f"notify: {len(self.items)} tried: {', '.join(parts)}"


def build_message(notification: Notification, sender: str) -> EmailMessage:
    """The notification as a plain-text mail."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = notification.to_address
    mail["Subject"] = " ".join(notification.subject.split())
    mail["Date"] = format_datetime(clock.now())
    mail["Message-ID"] = make_msgid(idstring=f"svcconsole.{notification.id}", domain=sender.rpartition("@")[2] or None)
    mail.set_content(notification.body)
    return mail


def tls_context() -> ssl.SSLContext:
    """The context STARTTLS verifies the server with (the system's trusted CAs)."""
    return ssl.create_default_context()


def open_connection(settings: settings_module.Settings) -> smtplib.SMTP:
    """A connection to the configured server, upgraded by STARTTLS and logged in as configured."""
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


def _queued_page(db: Database, after: int, limit: int | None) -> list[Notification]:
    with db.read() as session:
        query = select(Notification).where(Notification.status == "queued", Notification.id > after).order_by(Notification.id)  # type: ignore[arg-type,operator]
        if limit is not None:
            query = query.limit(limit)
        return list(session.exec(query).all())


def _mark_sent(db: Database, notification_id: int) -> None:
    def work(session: Session) -> None:
        row = session.get(Notification, notification_id)
        if row is not None:
            row.status = "sent"
            row.sent_at = clock.now()
            row.attempts = (row.attempts or 0) + 1
            row.last_error = None
            session.add(row)

    db.transaction(work)


def _mark_failed_attempt(db: Database, notification_ids: list[int], error: str, *, final: bool = False) -> dict[int, str]:
    def work(session: Session) -> dict[int, str]:
        outcomes = {}
        for row in session.exec(select(Notification).where(Notification.id.in_(notification_ids))).all():  # type: ignore[union-attr]
            row.attempts = (row.attempts or 0) + 1
            row.last_error = error[:2000]
            if final or row.attempts >= MAX_ATTEMPTS:
                row.status = "failed"
            session.add(row)
            outcomes[row.id or 0] = row.status
        return outcomes

    return db.transaction(work)


def _error_text(error: BaseException, settings: settings_module.Settings) -> str:
    where = f"{settings['smtp_host']}:{settings['smtp_port']}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{address}: {code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}" for address, (code, reply) in error.recipients.items())
        return f"{where} refused the recipient: {refused}"
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else str(error.smtp_error)
        return f"{where} answered {error.smtp_code} {reply}"
    if isinstance(error, (ConnectionError, socket.timeout, socket.gaierror, OSError)):
        return f"cannot reach {where}: {type(error).__name__}: {error}"
    return f"{where}: {type(error).__name__}: {error}"


def send_queued(db: Database, *, limit: int | None = None) -> SendReport:
    """Send queued notifications (at most `limit`); failures stay queued with their error."""
    from svcconsole.core.automation import RunLock

    report = SendReport()
    with db.read() as session:
        settings = settings_module.load(session)
    if not settings["smtp_host"]:
        with db.read() as session:
            waiting = len(session.exec(select(Notification.id).where(Notification.status == "queued")).all())
        report.not_sent_reason = f"smtp_host is not set: {waiting} notification{'s' if waiting != 1 else ''} stay queued"
        report.unconfigured = True
        return report
    lock = RunLock(db, "mailer")
    if not lock.acquire():
        report.not_sent_reason = f"another send is running ({lock.held_by}); nothing sent"
        return report
    try:
        _send(db, settings, report, limit)
    finally:
        lock.release()
    return report


def _left(report: SendReport, limit: int | None) -> int | None:
    return None if limit is None else limit - len(report.items)


def _send(db: Database, settings: settings_module.Settings, report: SendReport, limit: int | None) -> None:
    after = 0
    connection: smtplib.SMTP | None = None
    try:
        while _left(report, limit) != 0:
            left = _left(report, limit)
            rows = _queued_page(db, after, PAGE if left is None else min(PAGE, left))
            if not rows:
                return
            after = rows[-1].id or 0
            for index, row in enumerate(rows):
                try:
                    mail = build_message(row, settings["smtp_from"])
                except ValueError as error:
                    _record_attempts(db, report, [row], f"cannot be sent: {error}", final=True)
                    continue
                try:
                    if connection is None:
                        connection = open_connection(settings)
                    connection.send_message(mail)
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as error:
                    _record_attempts(db, report, [row], _error_text(error, settings))
                    continue
                except (smtplib.SMTPException, OSError) as error:
                    left = _left(report, limit)
                    rest = rows[index:] + _queued_page(db, after, None if left is None else max(left - (len(rows) - index), 0))
                    _record_attempts(db, report, rest, _error_text(error, settings))
                    return
                _mark_sent(db, row.id or 0)
                report.items.append(SendItem(row.id or 0, row.service_id, "ok", f"mail {row.id} sent to {row.to_address}: {row.subject}"))
    finally:
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()


def _record_attempts(db: Database, report: SendReport, rows: list[Notification], error: str, *, final: bool = False) -> None:
    if not rows:
        return
    outcomes = _mark_failed_attempt(db, [row.id or 0 for row in rows], error, final=final)
    for row in rows:
        failed = outcomes.get(row.id or 0) == "failed"
        note = ("failed for good" if final else f"failed for good after {MAX_ATTEMPTS} attempts") if failed else "kept queued"
        report.items.append(SendItem(row.id or 0, row.service_id, "failed" if failed else "retry", f"mail {row.id} to {row.to_address!r} {note}: {error}"))


def list_notifications(session: Session, *, status: str | None = None, limit: int = 100) -> list[Notification]:
    """The outbox, newest first."""
    query = select(Notification)
    if status:
        query = query.where(Notification.status == status)
    return list(session.exec(query.order_by(Notification.id.desc()).limit(limit)).all())  # type: ignore[union-attr]
