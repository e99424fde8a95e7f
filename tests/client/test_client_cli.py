"""`svcconsole client --customer`: who the session acts as, and what it refuses before opening."""

from __future__ import annotations

import pytest

from svcconsole.client import app as client_app
from tests.conftest import make_actor


@pytest.fixture
def opened(monkeypatch):  # type: ignore[no-untyped-def]
    """The actor each `svcconsole client` run would have opened the customer area as."""
    actors = []
    monkeypatch.setattr(client_app, "run_client", lambda db, actor: actors.append(actor))
    return actors


def test_a_login_that_is_no_operator_is_the_customer_named(cli, db, admin, shop, opened):
    result = cli("client", "--customer", "alice@example.com", env={"SUDO_USER": "svcclient"})
    assert result.exit_code == 0, result.stderr
    assert [(actor.kind, actor.name, actor.customer_id, actor.read_only) for actor in opened] == [("client", "alice@example.com", shop.alice_id, False)]
    assert cli("client", "--customer", str(shop.bob_id), env={"SUDO_USER": "svcclient"}).exit_code == 0
    assert opened[-1].customer_id == shop.bob_id


def test_an_operator_gets_a_read_only_preview(cli, db, admin, shop, opened):
    make_actor(db, "olga", "operator")
    assert cli("client", "--customer", "alice@example.com", env={"SUDO_USER": "olga"}).exit_code == 0
    assert opened[-1].read_only and opened[-1].name == "alice@example.com (preview by olga)"
    assert cli("--read-only", "client", "--customer", "alice@example.com", env={"SUDO_USER": "svcclient"}).exit_code == 0
    assert opened[-1].read_only


def test_bad_customers_and_as_are_refused_before_anything_opens(cli, db, admin, shop, opened):
    unknown = cli("client", "--customer", "carol@example.com", env={"SUDO_USER": "svcclient"})
    assert unknown.exit_code == 1 and unknown.stderr.strip() == "error: --customer: no customer with id or email 'carol@example.com'"
    acting = cli("--as", "olga", "client", "--customer", "alice@example.com")
    assert acting.exit_code == 2 and "--as" in acting.stderr
    missing = cli("client")
    assert missing.exit_code == 2
    assert opened == []


def test_the_area_opens_in_the_customers_language_or_the_default_one(cli, db, admin, shop, opened):
    make_actor(db, "olga", "operator")
    assert cli("client", "--customer", "alice@example.com", env={"SUDO_USER": "svcclient"}).exit_code == 0
    assert opened[-1].locale == "en"
    assert cli("customers", "edit", "alice@example.com", "--locale", "fr").exit_code == 0
    assert cli("client", "--customer", "alice@example.com", env={"SUDO_USER": "svcclient"}).exit_code == 0
    assert opened[-1].locale == "fr"
    assert cli("client", "--customer", "alice@example.com", env={"SUDO_USER": "olga"}).exit_code == 0
    assert opened[-1].read_only and opened[-1].locale == "fr", "the operator's preview shows what the customer reads"
    assert cli("settings", "set", "default_locale", "fr").exit_code == 0
    assert cli("client", "--customer", "bob@example.com", env={"SUDO_USER": "svcclient"}).exit_code == 0
    assert opened[-1].locale == "fr"


def test_run_client_hands_the_actors_language_to_the_app(db, shop, monkeypatch):
    from dataclasses import replace

    started = []
    monkeypatch.setattr(client_app.ClientApp, "run", lambda self: started.append((self.locale, self.tr("Expires {date}"), self.actor.locale)))
    client_app.run_client(db, replace(shop.alice_actor, locale="fr"))
    assert started == [("fr", "Expire le {date}", "fr")]
