"""Sending through outages and misconfiguration: a connection error charges one mail at most and never fails it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import select

from svcconsole.core import leases, mailer, notifications
from svcconsole.core import settings as settings_module
from svcconsole.store.models import Notification, Setting
from tests.billing.conftest import NOW, free_port, rows, set_setting, start_smtp


def queue_mails(db, count: int, *, domain: str = "example.com") -> list[int]:  # type: ignore[no-untyped-def]
    """Queue `count` mails to distinct customers; their ids in order."""

    def work(session):  # type: ignore[no-untyped-def]
        made = [
            notifications.queue(session, "health_alert", to_address=f"c{index}@{domain}", context={"problem": f"s{index}", "problems": "-"})
            for index in range(count)
        ]
        session.flush()
        return [row.id for row in made]

    return db.transaction(work)


def point_at(db, host: str, port: int) -> None:  # type: ignore[no-untyped-def]
    set_setting(db, "smtp_host", host)
    set_setting(db, "smtp_port", str(port))
    set_setting(db, "smtp_from", "billing@hosting.example")


def by_id(db) -> dict[int, Notification]:  # type: ignore[no-untyped-def]
    return {row.id: row for row in rows(db, Notification)}


# ----------------------------------------------------------------------------- finding 2: outages


def test_a_long_outage_charges_only_the_mail_being_sent_and_never_fails_any(db, admin, frozen):
    first, *others = queue_mails(db, 3)
    point_at(db, "127.0.0.1", free_port())
    for _ in range(mailer.MAX_ATTEMPTS + 2):
        report = mailer.send_queued(db)
        assert [item.notification_id for item in report.items] == [first]
        assert report.items[0].outcome == "retry"
        assert "connection error" in report.stopped
    mails = by_id(db)
    assert {row.status for row in mails.values()} == {"queued"}
    assert mails[first].attempts == mailer.MAX_ATTEMPTS + 2 and "cannot reach" in mails[first].last_error
    assert [(mails[other].attempts, mails[other].last_error) for other in others] == [(0, None), (0, None)]


def test_a_server_that_closes_after_two_mails_charges_only_the_third(db, admin, smtp, frozen):
    ids = queue_mails(db, 5)
    smtp.mailbox.accept_only = 2
    report = mailer.send_queued(db)
    assert [item.outcome for item in report.items] == ["ok", "ok", "retry"]
    assert "421" in report.stopped
    mails = by_id(db)
    assert [mails[mail_id].status for mail_id in ids] == ["sent", "sent", "queued", "queued", "queued"]
    assert [mails[mail_id].attempts for mail_id in ids] == [1, 1, 1, 0, 0]
    assert "421" in mails[ids[2]].last_error
    smtp.mailbox.accept_only = None
    assert [item.outcome for item in mailer.send_queued(db).items] == ["ok", "ok", "ok"]
    assert len(smtp.mailbox.messages) == 5


def test_the_queue_is_read_and_written_in_bounded_statements(db, admin, smtp, frozen, monkeypatch):
    queue_mails(db, 30)
    monkeypatch.setattr(mailer, "PAGE", 4)
    smtp.mailbox.accept_only = 1
    parameter_counts: list[int] = []

    def record(connection, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "notification" in statement:
            parameter_counts.append(len(parameters) if isinstance(parameters, (list, tuple, dict)) else 0)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        mailer.send_queued(db)
        smtp.mailbox.accept_only = None
        report = mailer.send_queued(db)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert report.count("ok") == 29
    assert parameter_counts and max(parameter_counts) <= 10


def test_a_permanent_refusal_fails_after_max_attempts_and_a_temporary_one_never(db, admin, smtp, frozen):
    refused, busy = queue_mails(db, 1, domain="refused.example") + queue_mails(db, 1, domain="busy.example")
    runs = [{item.notification_id: item.outcome for item in mailer.send_queued(db).items} for _ in range(mailer.MAX_ATTEMPTS + 1)]
    assert runs[0] == {refused: "retry", busy: "retry"}
    assert runs[mailer.MAX_ATTEMPTS - 1] == {refused: "failed", busy: "retry"}
    assert runs[mailer.MAX_ATTEMPTS] == {busy: "retry"}
    mails = by_id(db)
    assert (mails[refused].status, mails[refused].attempts) == ("failed", mailer.MAX_ATTEMPTS)
    assert (mails[busy].status, mails[busy].attempts) == ("queued", mailer.MAX_ATTEMPTS + 1)
    assert "450" in mails[busy].last_error and "550" in mails[refused].last_error


# ----------------------------------------------------------------------------- finding 5: one sender, renewed lease


class FakeWallClock:
    """The wall clock as leases read it, moved on by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_long_send_keeps_its_lease_so_no_second_sender_can_start(db, admin, smtp, frozen, monkeypatch):
    queue_mails(db, 6)
    wall = FakeWallClock()
    monkeypatch.setattr(leases, "wall_clock", wall)
    second_sender_got_in: list[bool] = []

    def four_minutes_per_mail(message) -> None:  # type: ignore[no-untyped-def]
        wall.now += timedelta(minutes=4)
        probe = leases.NamedLock(db, mailer.LOCK_NAME)
        second_sender_got_in.append(probe.acquire())
        if second_sender_got_in[-1]:
            probe.release()

    smtp.mailbox.on_message = four_minutes_per_mail
    report = mailer.send_queued(db)
    assert report.count("ok") == 6 and report.stopped is None
    assert second_sender_got_in == [False] * 6
    assert len(smtp.mailbox.messages) == 6


def test_a_mail_settled_by_someone_else_meanwhile_is_not_marked_again(db, admin, smtp, frozen):
    [mail_id] = queue_mails(db, 1)
    settled_at = NOW - timedelta(minutes=1)

    def another_sender_marks_it(message) -> None:  # type: ignore[no-untyped-def]
        def work(session):  # type: ignore[no-untyped-def]
            row = session.get(Notification, mail_id)
            row.status, row.attempts, row.sent_at = "sent", 7, settled_at
            session.add(row)

        db.transaction(work)

    smtp.mailbox.on_message = another_sender_marks_it
    mailer.send_queued(db)
    [row] = rows(db, Notification)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 7, settled_at)


def test_a_lost_lease_stops_the_send(db, admin, smtp, frozen, monkeypatch):
    if db.is_postgresql:
        pytest.skip("PostgreSQL holds the mailer lock as an advisory lock that lives as long as the sender's connection")
    queue_mails(db, 4)
    wall = FakeWallClock()
    monkeypatch.setattr(leases, "wall_clock", wall)

    def taken_over_after_the_first(message) -> None:  # type: ignore[no-untyped-def]
        if len(smtp.mailbox.messages) == 1:
            wall.now += timedelta(minutes=11)
            thief = leases.NamedLock(db, mailer.LOCK_NAME)
            thief.owner = "other-host:1:1:thief"
            assert thief.acquire()

    smtp.mailbox.on_message = taken_over_after_the_first
    report = mailer.send_queued(db)
    assert report.count("ok") == 1
    assert "taken over by other-host:1:1:thief" in report.stopped
    assert len([row for row in rows(db, Notification) if row.status == "queued"]) == 3


# ----------------------------------------------------------------------------- finding 9: settings and TLS


def test_smtp_from_must_be_an_address_without_line_breaks(db, admin, cli, smtp, frozen):
    refused = cli("settings", "set", "smtp_from", "billing@hosting.example\r\nBcc: all@example.com")
    assert refused.exit_code == 2 and "setting smtp_from:" in refused.stderr and "line breaks" in refused.stderr
    assert cli("settings", "set", "smtp_from", "not an address").exit_code == 2
    assert cli("settings", "set", "smtp_from", "Hosting Billing <billing@hosting.example>").exit_code == 0
    queue_mails(db, 1)
    assert cli("notify", "send").exit_code == 0
    [mail] = smtp.mailbox.messages
    assert (mail["from"], mail["header_from"]) == ("billing@hosting.example", "Hosting Billing <billing@hosting.example>")


def test_a_stored_sender_with_a_line_break_sends_nothing_and_charges_nothing(db, admin, cli, smtp, frozen):
    queue_mails(db, 2)

    def store_a_line_break(session):  # type: ignore[no-untyped-def]
        row = session.get(Setting, "smtp_from")
        row.value = "billing@hosting.example\nBcc: x@example.com"
        session.add(row)

    db.transaction(store_a_line_break)
    result = cli("notify", "send")
    assert result.exit_code == 1
    assert "fix it with `settings set smtp_from ADDRESS`" in result.stderr
    assert [(row.status, row.attempts) for row in rows(db, Notification)] == [("queued", 0), ("queued", 0)]
    assert cli("settings", "list").exit_code == 0


def test_a_login_without_tls_to_a_remote_host_is_refused_before_connecting(db, admin, cli, frozen):
    queue_mails(db, 1)
    for key, value in (("smtp_host", "mail.hosting.example"), ("smtp_user", "billing"), ("smtp_password", "s3cret")):
        set_setting(db, key, value)
    result = cli("notify", "send")
    assert result.exit_code == 1
    assert "refusing to log in to mail.hosting.example:25 as 'billing' without TLS" in result.stderr
    assert "set smtp_starttls true" in result.stderr
    assert [(row.status, row.attempts, row.last_error) for row in rows(db, Notification)] == [("queued", 0, None)]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_login_without_tls_is_allowed_to_a_loopback_host(db, admin, frozen):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticate(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"billing", b"s3cret")
        if ok:
            session.authenticated_login = auth_data.login.decode()
        return AuthResult(success=ok, handled=False)

    server = start_smtp(authenticator=authenticate, auth_required=True, auth_require_tls=False)
    try:
        point_at(db, server.host, server.port)
        set_setting(db, "smtp_user", "billing")
        set_setting(db, "smtp_password", "s3cret")
        queue_mails(db, 1)
        report = mailer.send_queued(db)
    finally:
        server.controller.stop()
    assert report.count("ok") == 1
    assert [message["login"] for message in server.mailbox.messages] == ["billing"]


def test_the_smtp_password_can_be_read_from_stdin(db, admin, cli):
    result = cli("settings", "set", "smtp_password", "-", input="correct horse battery\n")
    assert result.exit_code == 0, result.stderr
    assert "correct horse" not in result.stdout + result.stderr
    with db.read() as session:
        assert settings_module.load(session)["smtp_password"] == "correct horse battery"
        stored = session.exec(select(Setting.value).where(Setting.key == "smtp_password")).one()
    assert "correct horse" not in stored
