"""A customer's language (issue 17, item 4): `customers add|edit --locale`, the `default_locale`
setting, and the translator the customer area and mails use."""

import json

from svcconsole.core import i18n


def test_customers_add_and_edit_take_a_locale_and_refuse_others_in_one_line(db, admin, catalog, cli):
    added = cli("customers", "add", "--name", "Chloé", "--email", "chloe@example.fr", "--locale", "FR", "-f", "json")
    assert added.exit_code == 0, added.stderr
    customer_id = json.loads(added.stdout)["id"]
    assert json.loads(cli("customers", "show", str(customer_id), "-f", "json").stdout)["locale"] == "fr"

    refused = cli("customers", "edit", str(customer_id), "--locale", "de")
    assert refused.exit_code == 2
    [line] = refused.stderr.strip().splitlines()
    assert "--locale" in line and "en, fr" in line
    assert json.loads(cli("customers", "show", str(customer_id), "-f", "json").stdout)["locale"] == "fr"

    assert cli("customers", "edit", str(customer_id), "--locale", "").exit_code == 0
    assert json.loads(cli("customers", "show", str(customer_id), "-f", "json").stdout)["locale"] is None


def test_the_default_locale_setting_accepts_only_english_and_french(db, admin, cli):
    assert cli("settings", "set", "default_locale", "fr").exit_code == 0
    refused = cli("settings", "set", "default_locale", "es")
    assert refused.exit_code == 2 and "default_locale" in refused.stderr


def test_a_customer_without_a_locale_reads_the_default_and_english_is_the_last_resort():
    assert i18n.locale_of("fr", "en") == "fr"
    assert i18n.locale_of(None, "fr") == "fr"
    assert i18n.locale_of(None, None) == "en"
    assert i18n.translator("en")("Expires {date}") == "Expires {date}"
