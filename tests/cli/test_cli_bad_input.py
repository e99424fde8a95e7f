"""Bad input: one line on stderr naming the field and what is accepted, no traceback, nothing written."""

import pytest

from tests.conftest import Cli, new_service
from tests.reliability.support import every_row_digest

CREATE = ["services", "create", "--customer", "alice@example.com", "--name", "box", "--product", "Web Pro"]

CASES = [
    ("impossible date", [*CREATE, "--expires", "2027-02-30"], "--expires", "not a valid date"),
    ("garbage date", [*CREATE, "--expires", "next tuesday"], "--expires", "YYYY-MM-DD"),
    ("unknown cycle", [*CREATE, "--cycle", "fortnightly"], "--cycle", "not a billing cycle"),
    ("negative price", [*CREATE, "--price", "-5"], "--price", "negative"),
    ("non-numeric price", [*CREATE, "--price", "twelve"], "--price", "not an amount"),
    ("too many decimals", [*CREATE, "--price", "1.234"], "--price", "more than two decimals"),
    ("unknown customer", ["services", "create", "--customer", "nobody@example.com", "--name", "x", "--product", "Web Pro"], "--customer", "no customer"),
    ("unknown product", ["services", "create", "--customer", "alice@example.com", "--name", "x", "--product", "Nope"], "--product", "no product"),
    ("unknown server", [*CREATE, "--server", "mars-1"], "--server", "no server"),
    ("unknown module", ["services", "create", "--customer", "alice@example.com", "--name", "x", "--type", "cpanel", "--price", "1"], "--type", "not a module"),
    ("custom without price", ["services", "create", "--customer", "alice@example.com", "--name", "x", "--type", "manual"], "--price", "needs --price"),
    (
        "module needs a server",
        ["services", "create", "--customer", "alice@example.com", "--name", "x", "--type", "pterodactyl", "--price", "1"],
        "--server",
        "a pterodactyl service needs --server",
    ),
    ("custom without type", ["services", "create", "--customer", "alice@example.com", "--name", "x", "--price", "1"], "--type", "needs --type"),
    ("empty name", ["services", "create", "--customer", "alice@example.com", "--name", "  ", "--product", "Web Pro"], "--name", "required"),
    ("malformed email", ["customers", "add", "--name", "Bob", "--email", "bob@"], "email", "not an email"),
    ("duplicate email", ["customers", "add", "--name", "Alice Two", "--email", "ALICE@example.com"], "email", "already the email of customer"),
    ("product bad price", ["products", "add", "--name", "P", "--type", "manual", "--price", "monthly=-1"], "--price", "negative"),
    ("product bad cycle", ["products", "add", "--name", "P", "--type", "manual", "--price", "daily=1"], "--price", "not a billing cycle"),
    (
        "product cycle twice",
        ["products", "add", "--name", "P", "--type", "manual", "--price", "monthly=5", "--price", "Monthly=6"],
        "--price",
        "monthly is given twice",
    ),
    ("product edit cycle twice", ["products", "edit", "Web Pro", "--price", "annually=5", "--price", "yearly=6"], "--price", "annually is given twice"),
    ("product no price", ["products", "add", "--name", "P", "--type", "manual"], "--price", "at least one"),
    ("product unknown module", ["products", "add", "--name", "P", "--type", "whmcs", "--price", "monthly=1"], "type", "not a module"),
    ("server bad url", ["servers", "add", "--name", "s", "--module", "manual", "--url", "ftp://x"], "url", "not an http(s) URL"),
    ("non-numeric id", ["services", "suspend", "12a"], "id", "not an id"),
    ("zero id", ["services", "show", "0"], "id", "not an id"),
    ("refused transition on one service", ["services", "unsuspend", "1"], "service 1 is active: cannot unsuspend", "allowed from suspended"),
    ("refused transition, dry run", ["services", "delete", "1", "--dry-run"], "service 1 is active: cannot delete", "allowed from"),
    ("unknown service", ["services", "suspend", "999999"], "id", "no service with id 999999"),
    ("unknown service show", ["services", "show", "999999"], "service", "no service with id 999999"),
    ("bad days", ["services", "add-days", "1", "--days", "-3"], "days", "too small"),
    ("bad cycles", ["services", "renew", "1", "--cycles", "many"], "cycles", "not a whole number"),
    ("renew bad invoice", ["services", "renew", "1", "3", "--invoice", "abc", "--yes"], "--invoice", "not an id"),
    ("renew by invoice zero cycles", ["services", "renew", "1", "--invoice", "new", "--cycles", "0", "--yes"], "--cycles", "too small"),
    ("renew by invoice for free", ["services", "renew", "1", "--invoice", "new", "--free", "--yes"], "--free", "without --invoice"),
    ("renew too many cycles", ["services", "renew", "1", "--cycles", "121"], "--cycles", "too large"),
    ("bad kind", ["services", "suspend", "1", "--kind", "angry"], "kind", "not a suspension kind"),
    ("bad cancel mode", ["services", "cancel", "1", "--mode", "later"], "mode", "not a cancel mode"),
    ("bad status filter", ["services", "list", "--status", "sleeping"], "--status", "not a status"),
    ("bad format", ["services", "list", "--format", "xml"], "--format", "not a format"),
    ("bad sort", ["services", "list", "--sort", "colour"], "--sort", "not a column"),
    ("bad duration", ["services", "list", "--expiring-within", "soon"], "--expiring-within", "not a duration"),
    ("no selection", ["services", "suspend"], "ids", "give service ids"),
    ("unknown option", ["services", "list", "--colour", "red"], "--colour", "No such option"),
    ("missing option", ["customers", "add", "--name", "X"], "--email", "Missing option"),
    ("unknown setting", ["settings", "set", "colour", "red"], "setting", "unknown key"),
    ("bad timezone", ["settings", "set", "timezone", "Mars/Olympus"], "setting timezone", "not a time zone"),
    ("bad role", ["operators", "add", "zed", "--role", "god"], "role", "not a role"),
    ("bad metadata value", ["services", "meta", "1", "set", "max_renewals", "-1"], "metadata max_renewals", "too small"),
    ("edit nothing", ["services", "edit", "1"], "fields", "nothing to change"),
    ("arabic-indic id", ["services", "show", "١٢"], "id", "not an id"),
    ("full-width id", ["services", "suspend", "１"], "id", "not an id"),
    ("full-width price", [*CREATE, "--price", "５"], "--price", "not an amount"),
    ("superscript days", ["services", "add-days", "1", "--days", "²"], "days", "not a whole number"),
    ("far too long duration", ["services", "list", "--expiring-within", "3000000d"], "--expiring-within", "too long"),
    ("number too long for an id", ["services", "list", "--search", "1234567890123"], "--search", "not an id"),
    ("sandbox malformed token", ["sandbox", "proxmox", "--port", "0", "--api-key", "just-a-secret"], "--api-key", "USER@REALM!TOKENID=SECRET"),
]


@pytest.mark.parametrize(("label", "args", "field", "hint"), CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_one_line_naming_the_field(cli, db, admin, catalog, frozen, label, args, field, hint):
    new_service(db, admin, catalog, status="active")
    before = every_row_digest(db)
    result = cli(*args)
    assert result.exit_code in (1, 2), (result.exit_code, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert field in lines[0] and hint in lines[0], lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert every_row_digest(db) == before


def test_unreachable_database_url_is_one_line(tmp_path):
    result = Cli("postgresql+psycopg://svc@127.0.0.1:1/nowhere")("services", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: database: cannot connect to postgresql+psycopg://svc@127.0.0.1:1/nowhere")
    assert len(result.stderr.strip().splitlines()) == 1


def test_malformed_database_url_is_one_line():
    result = Cli("not a url")("services", "list")
    assert result.exit_code == 1
    assert "is not a database URL" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_passwords_in_database_urls_are_never_printed():
    result = Cli("postgresql+psycopg://svc:hunter2@127.0.0.1:1/nowhere")("services", "list")
    assert "hunter2" not in result.stderr and "***" in result.stderr


PREFIXES = [
    (["customers", "add", "--name", "Bob", "--email", "bob@"], "--email"),
    (["customers", "add", "--name", " ", "--email", "bob@example.com"], "--name"),
    (["customers", "edit", "1", "--email", "nobody"], "--email"),
    (["products", "add", "--name", "P", "--type", "whmcs", "--price", "monthly=1"], "--type"),
    (["products", "add", "--name", "P", "--type", "manual", "--price", "monthly=1", "--max-renewals", "x"], "--max-renewals"),
    (["products", "add", "--name", "P", "--type", "manual", "--price", "monthly=1", "--currency", "EURO"], "--currency"),
    (["products", "add", "--name", "Web Pro", "--type", "manual", "--price", "monthly=1"], "--name"),
    (["servers", "add", "--name", "s", "--module", "manual", "--url", "ftp://x"], "--url"),
    (["servers", "add", "--name", "s", "--module", "cpanel", "--url", "https://s.example.net"], "--module"),
    (["servers", "add", "--name", "s", "--module", "manual", "--url", "https://s.example.net", "--capacity", "-1"], "--capacity"),
    (["servers", "edit", "shared-1", "--url", "nowhere"], "--url"),
    (["operators", "add", "zed", "--role", "god"], "--role"),
    (["services", "suspend", "1", "--kind", "angry"], "--kind"),
    (["services", "add-days", "1", "--days", "0"], "--days"),
    (["services", "subtract-days", "1", "--days", "x"], "--days"),
    (["services", "renew", "1", "--cycles", "0"], "--cycles"),
    (["services", "cancel", "1", "--mode", "later"], "--mode"),
    (["services", "create", "--customer", "1", "--name", "x", "--type", "manual", "--price", "1", "--max-renewals", "x"], "--max-renewals"),
]


@pytest.mark.parametrize(("args", "option"), PREFIXES, ids=[" ".join(args[:2]) + " " + option for args, option in PREFIXES])
def test_a_refusal_names_the_option_the_user_typed(cli, db, admin, catalog, frozen, args, option):
    new_service(db, admin, catalog, status="active")
    result = cli(*args)
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stderr.startswith(f"error: {option}: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr


UNKNOWN_NAMES = [
    (["services", "create", "--customer", "alice@example.com", "--name", "x", "--product", "Nope"], "--product"),
    (["services", "create", "--customer", "nobody@example.com", "--name", "x", "--product", "Web Pro"], "--customer"),
    (["services", "create", "--customer", "alice@example.com", "--name", "x", "--product", "Web Pro", "--server", "mars-1"], "--server"),
    (["services", "edit", "1", "--server", "mars-1"], "--server"),
    (["services", "list", "--product", "Nope"], "--product"),
    (["services", "list", "--server", "mars-1"], "--server"),
    (["services", "list", "--customer", "nobody@example.com"], "--customer"),
    (["services", "suspend", "--product", "Nope", "--yes"], "--product"),
    (["services", "renew", "--server", "mars-1", "--yes"], "--server"),
    (["services", "add-days", "--customer", "nobody@example.com", "--days", "1", "--yes"], "--customer"),
    (["services", "suspend", "999999"], "id"),
    (["services", "bulk", "show", "999"], "RUN"),
]


@pytest.mark.parametrize(("args", "option"), UNKNOWN_NAMES, ids=[" ".join(args[:2]) + " " + option for args, option in UNKNOWN_NAMES])
def test_a_named_thing_that_does_not_exist_is_exit_1_everywhere(cli, db, admin, catalog, frozen, args, option):
    new_service(db, admin, catalog, status="active")
    before = every_row_digest(db)
    result = cli(*args)
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert result.stderr.startswith(f"error: {option}: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert every_row_digest(db) == before


def test_a_directory_as_the_sqlite_database_is_one_line_naming_db(tmp_path):
    result = Cli(f"sqlite:///{tmp_path}")("services", "list")
    assert result.exit_code == 1
    assert result.stderr == f"error: database (--db): {tmp_path} is a directory, not a SQLite file (sqlite:////path/to/svcconsole.db)\n"


def test_db_check_on_a_missing_sqlite_file_says_so_and_creates_nothing(tmp_path):
    missing = tmp_path / "nowhere" / "svcconsole.db"
    result = Cli(f"sqlite:///{missing}")("db", "check")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: database (--db): {missing} does not exist") and len(result.stderr.splitlines()) == 1
    assert not missing.exists() and not missing.parent.exists()
