"""Mail templates as files: every template in English and French, the customer's language, an
admin's override in the config directory, a broken or hostile override set aside for the
built-in with one line naming its file and line, and `notify preview`."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from svcconsole.core import lookups, mail_templates, notifications
from svcconsole.store.models import Notification
from tests.billing.conftest import NOW, active_service, count, rows, set_setting

NBSP = "\u00a0"
NNBSP = "\u202f"
CUSTOMER_MAILS = {
    "delivered",
    "suspended",
    "unsuspended",
    "renewal_invoice",
    "expiry_notice",
    "cancelled",
    "terminated",
    "expired",
    "credentials_reset",
    "ticket_opened",
    "ticket_reply",
}
ADMIN_MAILS = {"manual_delivery", "delivery_failed", "health_alert", "reconcile_drift", "ticket_customer_message"}

# Written by hand from the French wording (ClientXCMS's guide: "espace client", "Mensuel", "expire le"):
# the service "shop" of Alice Martin, 12.00 EUR a month, expiring 2026-12-01 (frozen now: 2026-11-21).
FRENCH_SUBJECTS = {
    "delivered": "Votre service shop est prêt",
    "suspended": "Votre service shop est suspendu",
    "unsuspended": "Votre service shop est de nouveau actif",
    "cancelled": "Votre service shop est annulé",
    "terminated": "Votre service shop est terminé",
    "expired": "Votre service shop a expiré",
    "expiry_notice": "Votre service shop expire le 1er décembre 2026",
    "credentials_reset": "Un nouveau mot de passe pour shop",
}
ENGLISH_SUBJECTS = {
    "delivered": "Your service shop is ready",
    "expiry_notice": "Your service shop expires on 2026-12-01",
    "expired": "Your service shop has expired",
}


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The admin's config directory (SVCCONSOLE_CONFIG_DIR), empty."""
    folder = tmp_path / "config"
    monkeypatch.setenv("SVCCONSOLE_CONFIG_DIR", str(folder))
    return folder


def override(config_dir: Path, locale: str, name: str, text: str) -> Path:
    path = config_dir / "templates" / "mail" / locale / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def shop(db, admin, catalog) -> int:  # type: ignore[no-untyped-def]
    return active_service(db, admin, catalog, expires=NOW + timedelta(days=10), name="shop")


def preview(db, template: str, service_id: int, locale: str | None = None) -> mail_templates.RenderedMail:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return notifications.preview(session, template, lookups.get_service(session, service_id), locale)


def test_the_built_in_templates_are_the_customer_and_admin_mails(config_dir):
    assert set(mail_templates.template_names()) == CUSTOMER_MAILS | ADMIN_MAILS
    assert notifications.CUSTOMER_TEMPLATES == CUSTOMER_MAILS


def test_every_template_renders_in_english_and_french_for_a_sample_service(db, admin, catalog, config_dir, frozen):
    service_id = shop(db, admin, catalog)
    for name in sorted(CUSTOMER_MAILS | ADMIN_MAILS):
        english, french = preview(db, name, service_id, "en"), preview(db, name, service_id, "fr")
        for mail in (english, french):
            assert mail.subject and mail.body.endswith("\n") and mail.problem is None, (name, mail)
            assert "{{" not in mail.body + mail.subject and "{%" not in mail.body, name
        if name in CUSTOMER_MAILS:
            assert french.source.endswith(f"/fr/{name}.txt") and french.subject != english.subject, name
            assert french.body.startswith("Bonjour Alice Martin,\n\n") and english.body.startswith("Hello Alice Martin,\n\n"), name
        else:
            assert french == english, f"{name} goes to the admin, in English"
    for name, subject in FRENCH_SUBJECTS.items():
        assert preview(db, name, service_id, "fr").subject == subject, name
    for name, subject in ENGLISH_SUBJECTS.items():
        assert preview(db, name, service_id, "en").subject == subject, name


def test_french_dates_money_and_cycles_follow_the_locale(db, admin, catalog, config_dir, frozen):
    service_id = shop(db, admin, catalog)
    delivered = preview(db, "delivered", service_id, "fr")
    assert delivered.body == (
        "Bonjour Alice Martin,\n\n"
        f"Votre service n°{service_id} «{NBSP}shop{NBSP}» a été livré le 21 novembre 2026 et il est actif.\n"
        f"Renouvellement automatique le 1er décembre 2026 pour 12,00{NBSP}€ (cycle mensuel).\n"
    )
    notice = preview(db, "expiry_notice", service_id, "fr")
    assert f"expire le 1er décembre 2026, dans 10 jours. Renouvelez-le pour 12,00{NBSP}€ afin qu'il reste actif." in notice.body


def test_a_french_customer_receives_french_mail_over_smtp_and_an_english_one_english(db, admin, catalog, cli, smtp, config_dir, frozen):
    assert cli("customers", "edit", "alice@example.com", "--locale", "fr").exit_code == 0
    assert cli("customers", "add", "--name", "Bob Stone", "--email", "bob@example.com").exit_code == 0
    french = active_service(db, admin, catalog, expires=NOW + timedelta(days=3), name="boutique")
    english = active_service(db, admin, catalog, expires=NOW + timedelta(days=3), name="shop", customer="bob@example.com")
    assert cli("services", "renew", str(french), "--invoice", "new").exit_code == 0

    sent = cli("notify", "send")

    assert sent.exit_code == 0, sent.stderr
    by_subject = {message["subject"]: message for message in smtp.mailbox.messages}
    assert set(by_subject) == {"Votre service boutique est prêt", "Facture n°1 pour boutique", "Your service shop is ready"}
    assert by_subject["Votre service boutique est prêt"]["to"] == ["alice@example.com"]
    invoice = by_subject["Facture n°1 pour boutique"]["body"].replace("\r\n", "\n")
    assert f"La facture n°1 de 12,00{NBSP}€ pour le renouvellement du service n°{french} «{NBSP}boutique{NBSP}»" in invoice
    assert "(du 24 novembre 2026 au 24 décembre 2026) est à régler au plus tard le 24 novembre 2026." in invoice
    assert "was delivered on 2026-11-21 and is active.\nIt renews on 2026-11-24 for 12.00 EUR (monthly)." in by_subject["Your service shop is ready"][
        "body"
    ].replace("\r\n", "\n")
    assert english


def test_the_default_locale_setting_chooses_for_a_customer_without_their_own(db, admin, catalog, config_dir, frozen):
    set_setting(db, "default_locale", "fr")
    service_id = shop(db, admin, catalog)
    [mail] = rows(db, Notification, Notification.service_id == service_id)
    assert mail.subject == "Votre service shop est prêt"


def test_an_override_in_the_config_directory_wins_for_its_locale_only(db, admin, catalog, config_dir, frozen):
    override(config_dir, "fr", "delivered", "Subject: Bienvenue sur {{ service_name }}\n\nBonjour {{ customer_name }}, c'est prêt le {{ today|date }}.\n")
    set_setting(db, "default_locale", "fr")
    french = shop(db, admin, catalog)
    set_setting(db, "default_locale", "en")
    english = active_service(db, admin, catalog, expires=NOW + timedelta(days=10), name="other")

    [mail] = rows(db, Notification, Notification.service_id == french)
    assert (mail.subject, mail.body) == ("Bienvenue sur shop", "Bonjour Alice Martin, c'est prêt le 21 novembre 2026.\n")
    [other] = rows(db, Notification, Notification.service_id == english)
    assert other.subject == "Your service other is ready", "the English built-in still serves English"


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("Subject: Prêt\n\nBonjour,\n{{ nope }}\n", 4, "UndefinedError: 'nope' is undefined"),
        ("Subject: Prêt\n\n{% if %}\n", 3, "Expected an expression"),
        ("Bonjour sans sujet\n", 1, "the first line must be 'Subject: ...'"),
        ("Subject: {{ service_name|nofilter }}\n\nx\n", 1, "No filter named 'nofilter'"),
    ],
)
def test_a_broken_override_is_named_in_one_line_with_its_file_and_line_and_the_built_in_is_sent(
    db, admin, catalog, config_dir, frozen, caplog, text, line, what
):
    path = override(config_dir, "fr", "delivered", text)
    set_setting(db, "default_locale", "fr")
    with caplog.at_level(logging.WARNING, logger="svcconsole.mail"):
        service_id = shop(db, admin, catalog)
        second = active_service(db, admin, catalog, expires=NOW + timedelta(days=10), name="second")

    [mail] = rows(db, Notification, Notification.service_id == service_id)
    assert mail.subject == "Votre service shop est prêt" and mail.body.startswith("Bonjour Alice Martin,\n\nVotre service")
    assert rows(db, Notification, Notification.service_id == second)[0].subject == "Votre service second est prêt"
    logged_lines = [record.getMessage() for record in caplog.records if record.name == "svcconsole.mail"]
    assert len(logged_lines) == 1, "logged once, not once per mail"
    [logged] = logged_lines
    assert logged.startswith(f"{path}:{line}: ") and what in logged and logged.endswith("; the built-in template is used")
    assert "\n" not in logged


@pytest.mark.parametrize(
    "escape",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ service_name.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ price.__class__.__init__.__globals__ }}",
        "{{ ''.format.__self__ }}",
    ],
)
def test_a_sandbox_escape_in_an_override_is_refused_and_the_built_in_is_sent(db, admin, catalog, config_dir, frozen, caplog, escape):
    path = override(config_dir, "en", "delivered", f"Subject: hi\n\n{escape}\n")
    with caplog.at_level(logging.WARNING, logger="svcconsole.mail"):
        service_id = shop(db, admin, catalog)
    [mail] = rows(db, Notification, Notification.service_id == service_id)
    assert mail.subject == "Your service shop is ready"
    assert "class" not in mail.body and "globals" not in mail.body
    [logged] = [record.getMessage() for record in caplog.records if record.name == "svcconsole.mail"]
    assert logged.startswith(f"{path}:3: ") and ("is unsafe" in logged or "no attribute" in logged), logged


def test_a_value_that_looks_like_a_template_is_printed_as_it_is(db, admin, catalog, config_dir, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=10), name="{{ 7*7 }}{% if 1 %}x{% endif %}")
    [mail] = rows(db, Notification, Notification.service_id == service_id)
    assert mail.subject == "Your service {{ 7*7 }}{% if 1 %}x{% endif %} is ready"


def test_a_value_with_a_line_break_stays_in_the_subject_and_never_starts_the_body(db, admin, catalog, config_dir, frozen):
    service_id = active_service(db, admin, catalog, expires=NOW + timedelta(days=10), name="evil\nSubject: other")
    [mail] = rows(db, Notification, Notification.service_id == service_id)
    assert mail.subject == "Your service evil\nSubject: other is ready"
    assert mail.body.startswith("Hello Alice Martin,\n\n")


def test_notify_preview_prints_the_mail_in_the_customers_language_and_queues_nothing(db, admin, catalog, cli, config_dir, frozen):
    service_id = shop(db, admin, catalog)
    assert cli("customers", "edit", "alice@example.com", "--locale", "fr").exit_code == 0
    queued = count(db, Notification)

    french = cli("notify", "preview", "delivered", "--service", str(service_id))
    english = cli("notify", "preview", "delivered", "--service", str(service_id), "--locale", "en")
    admin_mail = cli("notify", "preview", "delivery_failed", "--service", str(service_id))

    assert french.exit_code == 0 and french.stderr == ""
    assert french.stdout.startswith("Subject: Votre service shop est prêt\n\nBonjour Alice Martin,\n\n")
    assert english.stdout == (
        "Subject: Your service shop is ready\n\nHello Alice Martin,\n\n"
        f'Your service #{service_id} "shop" was delivered on 2026-11-21 and is active.\nIt renews on 2026-12-01 for 12.00 EUR (monthly).\n'
    )
    assert admin_mail.stdout.startswith(f"Subject: Delivery of service #{service_id} failed\n"), "admin mails stay English"
    assert count(db, Notification) == queued


def test_notify_preview_names_a_broken_override_on_stderr_and_shows_the_built_in(db, admin, catalog, cli, config_dir, frozen):
    service_id = shop(db, admin, catalog)
    path = override(config_dir, "en", "suspended", "Subject: {{ service_name }}\n\n{% for x in %}\n")
    shown = cli("notify", "preview", "suspended", "--service", str(service_id))
    assert shown.exit_code == 0
    assert shown.stderr.startswith(f"template error: {path}:3: ") and shown.stderr.strip().endswith("the built-in template is used")
    assert len(shown.stderr.strip().splitlines()) == 1
    assert shown.stdout.startswith("Subject: Your service shop is suspended\n")


def test_notify_preview_refuses_an_unknown_template_service_or_locale_in_one_line(db, admin, catalog, cli, config_dir, frozen):
    service_id = shop(db, admin, catalog)
    for args, field in (
        (["nope", "--service", str(service_id)], "TEMPLATE"),
        (["delivered", "--service", "999"], "999"),
        (["delivered", "--service", str(service_id), "--locale", "de"], "--locale"),
    ):
        refused = cli("notify", "preview", *args)
        assert refused.exit_code != 0 and refused.stdout == "", args
        assert len(refused.stderr.strip().splitlines()) == 1 and field in refused.stderr, (args, refused.stderr)


def test_a_template_not_yet_moved_to_files_still_renders_from_the_templates_dict_in_english(db, admin, catalog, config_dir, frozen, monkeypatch):
    monkeypatch.setitem(notifications.TEMPLATES, "legacy_notice", notifications.Template("Re: {subject}", "Hello {customer_name},\n\n{body}\n{missing}\n"))
    service_id = shop(db, admin, catalog)
    set_setting(db, "default_locale", "fr")
    with db.read() as session:
        service = lookups.get_service(session, service_id)
    db.transaction(lambda session: notifications.notify_customer(session, "legacy_notice", service, subject="Disk", body="Done."))
    mail = rows(db, Notification, Notification.template == "legacy_notice")[-1]
    assert (mail.subject, mail.body) == ("Re: Disk", "Hello Alice Martin,\n\nDone.\n-\n")
    assert preview(db, "legacy_notice", service_id).subject == "Re: -"


def test_a_french_customer_reads_supports_ticket_mails_in_french_and_the_staff_read_english(db, admin, catalog, config_dir, frozen):
    from svcconsole.core import tickets

    service_id = shop(db, admin, catalog)
    set_setting(db, "default_locale", "fr")
    set_setting(db, "admin_email", "support@hosting.example")
    opened = db.transaction(lambda session: tickets.open_ticket(session, admin, service_id, "Maintenance", "Vendredi 22h."))
    db.transaction(lambda session: tickets.reply(session, admin, opened.ticket_id, "C'est fait."))
    first, answer = (rows(db, Notification, Notification.template == name)[-1] for name in ("ticket_opened", "ticket_reply"))
    assert first.subject == f"[Ticket n°{opened.ticket_id}] Maintenance"
    assert first.body == (
        "Bonjour Alice Martin,\n\n"
        f"Le support a ouvert le ticket n°{opened.ticket_id} «{NBSP}Maintenance{NBSP}» au sujet de votre service n°{service_id} «{NBSP}shop{NBSP}»{NBSP}:\n\n"
        "Vendredi 22h.\n\nLisez-le et répondez dans votre espace client.\n"
    )
    assert answer.body.startswith("Bonjour Alice Martin,\n\nLe support a répondu à votre ticket") and "C'est fait." in answer.body
