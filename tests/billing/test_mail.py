"""Notifications really sent to a local SMTP server and read back; kept queued when it is down."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from svcconsole.core import clock, mailer, notifications, orders
from svcconsole.store.models import Invoice, Notification
from tests.billing.conftest import NOW, active_service, count, free_port, rows, service, set_setting, start_smtp


def test_notify_send_delivers_the_outbox_and_marks_it_sent(db, admin, catalog, cli, smtp, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=3), name="shop")
    assert cli("services", "renew", str(service_id), "--invoice", "new").exit_code == 0

    result = cli("notify", "send")

    assert result.exit_code == 0, result.stderr
    by_subject = {message["subject"]: message for message in smtp.mailbox.messages}
    assert set(by_subject) == {"Your service shop is ready", "Invoice #1 for shop"}
    invoice_mail = by_subject["Invoice #1 for shop"]
    assert invoice_mail["to"] == ["alice@example.com"]
    assert invoice_mail["from"] == "billing@hosting.example"
    assert 'Invoice #1 of 12.00 EUR for the renewal of service #1 "shop" (2026-11-24 to 2026-12-24) is due on 2026-11-24.' in invoice_mail["body"]
    assert all(row.status == "sent" and row.attempts == 1 and row.sent_at == NOW for row in rows(db, Notification))
    again = cli("notify", "send")
    assert again.exit_code == 0 and "no queued notifications" in again.stderr
    assert len(smtp.mailbox.messages) == 2


def test_suspend_with_notify_queues_the_mail_and_without_does_not(db, admin, catalog, cli, smtp, frozen):
    told = active_service(db, admin, catalog, expires=NOW + timedelta(days=30), name="told")
    silent = active_service(db, admin, catalog, expires=NOW + timedelta(days=30), name="silent")
    assert cli("notify", "send").exit_code == 0
    smtp.mailbox.messages.clear()

    assert cli("services", "suspend", str(told), "--reason", "abuse report #77", "--kind", "abuse", "--notify").exit_code == 0
    assert cli("services", "suspend", str(silent), "--reason", "quiet", "--kind", "admin").exit_code == 0
    assert cli("notify", "send").exit_code == 0

    [mail] = smtp.mailbox.messages
    assert mail["subject"] == "Your service told is suspended"
    assert "Reason: abuse report #77" in mail["body"]
    assert "was suspended on 2026-11-21" in mail["body"]


def test_a_server_down_keeps_mail_queued_with_the_error_and_a_later_send_delivers_it(db, admin, catalog, cli, frozen):
    port = free_port()
    set_setting(db, "smtp_host", "127.0.0.1")
    set_setting(db, "smtp_port", str(port))
    set_setting(db, "smtp_from", "billing@hosting.example")
    active_service(db, admin, catalog, expires=NOW + timedelta(days=30), name="shop")

    down = cli("notify", "send")

    assert down.exit_code == 3
    [row] = rows(db, Notification)
    assert (row.status, row.attempts, row.sent_at) == ("queued", 1, None)
    assert f"cannot reach 127.0.0.1:{port}" in row.last_error
    assert "kept queued" in down.stdout
    listed = cli("notify", "list", "--status", "queued")
    assert "cannot reach" in listed.stdout

    assert cli("notify", "send").exit_code == 3
    assert rows(db, Notification)[0].attempts == 2

    server = start_smtp(port)
    try:
        up = cli("notify", "send")
    finally:
        server.controller.stop()
    assert up.exit_code == 0, up.stderr
    [row] = rows(db, Notification)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)
    [mail] = server.mailbox.messages
    assert mail["subject"] == "Your service shop is ready"


def test_a_refused_recipient_stays_queued_and_the_others_are_sent(db, admin, catalog, smtp, frozen):
    active_service(db, admin, catalog, expires=NOW + timedelta(days=30), name="shop")
    db.transaction(
        lambda session: notifications.queue(session, "health_alert", to_address="ghost@refused.example", context={"problem": "x", "problems": "- x"})
    )
    report = mailer.send_queued(db)
    assert sorted(item.outcome for item in report.items) == ["ok", "retry"]
    [refused] = rows(db, Notification, Notification.status == "queued")
    assert refused.to_address == "ghost@refused.example"
    assert "refused the recipient" in refused.last_error and "550" in refused.last_error
    assert [message["to"] for message in smtp.mailbox.messages] == [["alice@example.com"]]


def test_a_mail_that_cannot_be_built_fails_at_once_and_line_breaks_in_names_are_flattened(db, admin, catalog, smtp, frozen):
    active_service(db, admin, catalog, expires=NOW + timedelta(days=30), name="evil\r\nBcc: all@example.com")
    db.transaction(
        lambda session: notifications.queue(
            session, "health_alert", to_address="x@example.com\r\nRCPT TO:<y@example.com>", context={"problem": "x", "problems": "- x"}
        )
    )
    report = mailer.send_queued(db)
    assert sorted(item.outcome for item in report.items) == ["failed", "ok"]
    [mail] = smtp.mailbox.messages
    assert mail["subject"] == "Your service evil Bcc: all@example.com is ready"
    assert mail["to"] == ["alice@example.com"]
    [bad] = rows(db, Notification, Notification.status == "failed")
    assert "cannot be sent" in bad.last_error


def test_a_mail_refused_ten_times_is_marked_failed(db, admin, catalog, smtp, frozen):
    db.transaction(
        lambda session: notifications.queue(session, "health_alert", to_address="ghost@refused.example", context={"problem": "x", "problems": "- x"})
    )
    outcomes = [mailer.send_queued(db).items[0].outcome for _ in range(mailer.MAX_ATTEMPTS)]
    assert outcomes == ["retry"] * (mailer.MAX_ATTEMPTS - 1) + ["failed"]
    [row] = rows(db, Notification)
    assert (row.status, row.attempts) == ("failed", mailer.MAX_ATTEMPTS)
    assert mailer.send_queued(db).items == []


def test_starttls_and_login_as_configured(db, admin, catalog, cli, tls_smtp, frozen):
    active_service(db, admin, catalog, expires=NOW + timedelta(days=30), name="secure")
    result = cli("notify", "send")
    assert result.exit_code == 0, result.stdout + result.stderr
    [mail] = tls_smtp.mailbox.messages
    assert (mail["subject"], mail["login"], mail["tls"]) == ("Your service secure is ready", "billing", True)
    settings_shown = cli("settings", "get", "smtp_password")
    assert settings_shown.stdout.strip() == "(set)"


def test_a_wrong_password_keeps_the_mail_queued_with_the_server_answer(db, admin, catalog, cli, tls_smtp, frozen):
    set_setting(db, "smtp_password", "wrong")
    active_service(db, admin, catalog, expires=NOW + timedelta(days=30))
    assert cli("notify", "send").exit_code == 3
    [row] = rows(db, Notification)
    assert row.status == "queued" and "535" in row.last_error
    assert tls_smtp.mailbox.messages == []


def test_no_smtp_host_means_mail_stays_queued(db, admin, catalog, cli, frozen):
    active_service(db, admin, catalog, expires=NOW + timedelta(days=30))
    result = cli("notify", "send")
    assert result.exit_code == 1
    assert "smtp_host is not set: 1 notification stay queued" in result.stderr
    assert rows(db, Notification)[0].attempts == 0


def test_the_automation_sends_what_it_queued(db, admin, catalog, cli, smtp, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=2, hours=6), name="shop")
    assert cli("notify", "send").exit_code == 0
    smtp.mailbox.messages.clear()
    with clock.frozen_at(NOW):
        result = cli("automation", "run")
    assert result.exit_code == 0, result.stderr
    subjects = sorted(message["subject"] for message in smtp.mailbox.messages)
    assert subjects == ["Invoice #1 for shop", "Your service shop expires on 2026-11-23"]
    notice = next(message for message in smtp.mailbox.messages if message["subject"].startswith("Your service"))
    assert "expires on 2026-11-23, in 2 days. Renew it for 12.00 EUR" in notice["body"]
    assert count(db, Notification, Notification.status == "queued") == 0
    assert service(db, service_id).status == "active"


def test_mail_dates_are_in_the_configured_time_zone(db, admin, catalog, cli, smtp, frozen):
    assert cli("settings", "set", "timezone", "Europe/Paris").exit_code == 0
    created = cli("services", "create", "--customer", "alice@example.com", "--name", "paris", "--product", "Web Pro", "--expires", "2026-12-01", "--deliver")
    assert created.exit_code == 0, created.stderr
    assert cli("notify", "send").exit_code == 0
    [mail] = smtp.mailbox.messages
    assert "It renews on 2026-12-01 for 12.00 EUR (monthly)." in mail["body"]


def test_cancelling_a_renewal_invoice_drops_its_queued_mail(db, admin, catalog, cli, smtp, frozen):
    kept = active_service(db, admin, catalog, expires=NOW + timedelta(days=3), name="kept")
    dropped = active_service(db, admin, catalog, expires=NOW + timedelta(days=3), name="dropped")
    assert cli("notify", "send").exit_code == 0
    smtp.mailbox.messages.clear()
    assert cli("services", "renew", str(kept), "--invoice", "new").exit_code == 0
    assert cli("services", "renew", str(dropped), "--invoice", "new").exit_code == 0
    [kept_invoice, dropped_invoice] = [row.id for row in rows(db, Invoice)]

    assert cli("invoices", "cancel", str(dropped_invoice)).exit_code == 0
    sent = cli("notify", "send")

    assert sent.exit_code == 0, sent.stderr
    assert [message["subject"] for message in smtp.mailbox.messages] == [f"Invoice #{kept_invoice} for kept"]
    [row] = rows(db, Notification, Notification.service_id == dropped, Notification.template == "renewal_invoice")
    assert (row.status, row.sent_at, row.last_error) == ("dropped", None, f"not sent: invoice {dropped_invoice} was cancelled")
    listed = cli("notify", "list", "--status", "dropped", "--format", "ids")
    assert listed.lines == [str(row.id)]
    assert cli("notify", "send").exit_code == 0
    assert len(smtp.mailbox.messages) == 1


def test_an_invoice_cancelled_while_the_outbox_is_being_sent_is_not_mailed(db, admin, catalog, cli, smtp, frozen):
    first = active_service(db, admin, catalog, expires=NOW + timedelta(days=3), name="first")
    second = active_service(db, admin, catalog, expires=NOW + timedelta(days=3), name="second")
    assert cli("notify", "send").exit_code == 0
    smtp.mailbox.messages.clear()
    assert cli("services", "renew", str(first), "--invoice", "new").exit_code == 0
    assert cli("services", "renew", str(second), "--invoice", "new").exit_code == 0
    [_, second_invoice] = [row.id for row in rows(db, Invoice)]

    def cancel_the_second_once_the_first_is_accepted(message):  # type: ignore[no-untyped-def]
        smtp.mailbox.on_message = None
        with clock.frozen_at(NOW):
            db.transaction(lambda session: orders.cancel_invoice(session, admin, second_invoice))

    smtp.mailbox.on_message = cancel_the_second_once_the_first_is_accepted
    report = mailer.send_queued(db)

    assert [item.outcome for item in report.items] == ["ok"]
    assert [message["subject"] for message in smtp.mailbox.messages] == ["Invoice #1 for first"]
    assert rows(db, Notification, Notification.service_id == second, Notification.template == "renewal_invoice")[0].status == "dropped"


class SenderDied(BaseException):
    """Stands for the sending process dying at that point (not an error the mailer handles)."""


def test_a_sender_that_dies_after_the_server_accepted_sends_it_again_under_the_same_message_id(db, admin, catalog, smtp, frozen, monkeypatch):
    active_service(db, admin, catalog, expires=NOW + timedelta(days=30), name="shop")
    [row] = rows(db, Notification)

    def die(*args, **kwargs):
        raise SenderDied

    with monkeypatch.context() as patched, contextlib.suppress(SenderDied):
        patched.setattr(mailer, "_mark_sent", die)
        mailer.send_queued(db)
    assert len(smtp.mailbox.messages) == 1, "the server accepted it before the sender died"
    assert rows(db, Notification)[0].status == "sending", "marked before the SMTP call"

    report = mailer.send_queued(db)

    assert report.count("ok") == 1
    first_copy, second_copy = smtp.mailbox.messages
    assert first_copy["message_id"] == second_copy["message_id"] == mailer.message_id(row, "billing@hosting.example")
    assert first_copy["message_id"].startswith(f"<svcconsole.{row.id}.") and first_copy["message_id"].endswith("@hosting.example>")
    assert rows(db, Notification)[0].status == "sent"


def test_a_sender_that_dies_before_the_smtp_call_loses_nothing(db, admin, catalog, smtp, frozen, monkeypatch):
    active_service(db, admin, catalog, expires=NOW + timedelta(days=30), name="shop")

    def die(*args, **kwargs):
        raise SenderDied

    with monkeypatch.context() as patched, contextlib.suppress(SenderDied):
        patched.setattr(mailer, "open_connection", die)
        mailer.send_queued(db)
    assert smtp.mailbox.messages == []

    mailer.send_queued(db)

    [mail] = smtp.mailbox.messages
    assert mail["subject"] == "Your service shop is ready"
    assert rows(db, Notification)[0].status == "sent"
