"""The core CLI commands of SPEC.md section 10 as a contract: names, flags, output, exit codes."""

import json

from svcconsole.core import statuses
from tests.conftest import make_actor, new_service
from tests.reliability.support import every_row_digest

SERVICE_KEYS = {
    "id",
    "uuid",
    "name",
    "customer_id",
    "customer",
    "product_id",
    "product",
    "server_id",
    "server",
    "type",
    "status",
    "billing_cycle",
    "price",
    "currency",
    "expires_at",
}


def setup_catalog(cli):
    customer = cli("customers", "add", "--name", "Alice Martin", "--email", "alice@example.com", "--company", "Pixel Forge")
    product = cli(
        "products",
        "add",
        "--name",
        "VPS S",
        "--type",
        "manual",
        "--price",
        "monthly=5.00",
        "--price",
        "annually=50.00",
        "--currency",
        "EUR",
        "--max-renewals",
        "10",
        "--config",
        "cores=2",
        "--config",
        "label=small",
    )
    server = cli(
        "servers", "add", "--name", "shared-1", "--module", "manual", "--url", "https://shared-1.example.net", "--credentials", "s3cret-key", "--node", "fra"
    )
    for result in (customer, product, server):
        assert result.exit_code == 0, result.stderr
        assert result.stdout.strip().isdigit()
    return customer.stdout.strip(), product.stdout.strip(), server.stdout.strip()


def test_add_commands_print_the_new_id_alone(cli, frozen):
    customer_id, product_id, server_id = setup_catalog(cli)
    created = cli(
        "services",
        "create",
        "--customer",
        "alice@example.com",
        "--name",
        "alice vps",
        "--product",
        "VPS S",
        "--cycle",
        "annually",
        "--server",
        "shared-1",
        "--expires",
        "2027-01-31",
        "--description",
        "Your VPS",
        "--notes",
        "vip",
        "--max-renewals",
        "3",
    )
    assert created.exit_code == 0, created.stderr
    assert created.stdout.strip().isdigit() and created.stderr == ""
    shown = json.loads(cli("services", "show", created.stdout.strip(), "--format", "json").stdout)
    assert SERVICE_KEYS <= set(shown)
    assert shown["customer_id"] == int(customer_id) and shown["product_id"] == int(product_id) and shown["server_id"] == int(server_id)
    assert (shown["status"], shown["billing_cycle"], shown["price"], shown["currency"]) == ("pending", "annually", "50.00", "EUR")
    assert shown["expires_at"] == "2027-01-31T00:00:00Z"
    assert (shown["description"], shown["notes"], shown["max_renewals"]) == ("Your VPS", "vip", 3)


def test_create_with_json_format_prints_the_object(cli, frozen):
    setup_catalog(cli)
    result = cli(
        "services",
        "create",
        "--customer",
        "1",
        "--name",
        "custom",
        "--type",
        "manual",
        "--price",
        "7.50",
        "--initial-price",
        "0",
        "--deliver",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert (record["status"], record["price"], record["initial_price"], record["product_id"]) == ("active", "7.50", "0.00", None)
    assert record["expires_at"] == "2026-12-21T12:00:00Z"


def test_list_json_is_an_array_of_objects_with_iso_times_and_string_money(cli, db, admin, catalog, frozen):
    ids = [new_service(db, admin, catalog, status="active"), new_service(db, admin, catalog, status="suspended")]
    result = cli("services", "list", "--format", "json")
    rows = json.loads(result.stdout)
    assert [row["id"] for row in rows] == ids
    assert SERVICE_KEYS <= set(rows[0])
    assert rows[0]["price"] == "12.00" and rows[0]["expires_at"].endswith("Z")
    assert json.loads(cli("services", "list", "--status", "suspended", "--format", "json").stdout)[0]["id"] == ids[1]


def test_list_formats(cli, db, admin, catalog, frozen):
    ids = [new_service(db, admin, catalog, status="active", name=f"box-{n}") for n in range(3)]
    assert cli("services", "list", "--format", "ids").lines == [str(i) for i in ids]
    csv_lines = cli("services", "list", "--format", "csv").lines
    assert csv_lines[0].startswith("id,uuid,name,customer_id,customer") and len(csv_lines) == 4
    table = cli("services", "list").lines
    assert table[0].split()[:3] == ["ID", "CUSTOMER", "NAME"] and "box-2" in table[3]
    assert cli("services", "list", "--sort", "name", "--desc", "--format", "ids").lines == [str(i) for i in reversed(ids)]
    limited = cli("services", "list", "--limit", "2")
    assert len(limited.lines) == 3 and "2 of 3 shown; --limit N or --all" in limited.stderr


def test_list_filters(cli, db, admin, catalog, frozen):
    soon = new_service(db, admin, catalog, status="active", expires="2026-11-25", name="soon")
    later = new_service(db, admin, catalog, status="active", expires="2027-06-01", name="later")
    deleted = new_service(db, admin, catalog, status="deleted")
    assert cli("services", "list", "--expiring-within", "7d", "--format", "ids").lines == [str(soon)]
    assert cli("services", "list", "--search", "late", "--format", "ids").lines == [str(later)]
    assert cli("services", "list", "--customer", "alice@example.com", "--format", "ids").lines == [str(soon), str(later)]
    assert str(deleted) not in cli("services", "list", "--format", "ids").lines
    assert str(deleted) in cli("services", "list", "--include-deleted", "--format", "ids").lines


def test_core_action_commands_exactly_as_documented(cli, db, admin, catalog, frozen):
    a, b = new_service(db, admin, catalog, status="active"), new_service(db, admin, catalog, status="active")
    suspend = cli("services", "suspend", str(a), str(b), "--reason", "unpaid", "--kind", "admin", "--notify", "--yes")
    assert suspend.exit_code == 0, suspend.stderr
    assert [line.split()[:2] for line in suspend.lines] == [[str(a), "ok"], [str(b), "ok"]]
    assert "suspend: 2 services: 2 ok" in suspend.stderr
    assert cli("services", "unsuspend", str(a), str(b), "--yes").exit_code == 0
    renew = cli("services", "renew", str(a), "--cycles", "2")
    assert renew.exit_code == 0 and "expires 2027-03-31 (was 2027-01-31)" in renew.stdout
    assert cli("services", "add-days", str(a), str(b), "--days", "5", "--yes").exit_code == 0
    assert cli("services", "cancel", str(a), "--mode", "end-of-cycle", "--reason", "moving").exit_code == 0
    assert cli("services", "meta", str(a), "set", "max_renewals", "1").exit_code == 0
    assert cli("services", "meta", str(a), "get", "max_renewals").stdout.strip() == "1"
    record = json.loads(cli("services", "show", str(a), "-f", "json").stdout)
    assert record["cancel_at"] == record["expires_at"] == "2027-04-05T00:00:00Z"
    assert record["metadata"] == {"max_renewals": "1"}


def test_json_lines_for_bulk_output(cli, db, admin, catalog, frozen):
    a = new_service(db, admin, catalog, status="active")
    result = cli("services", "suspend", str(a), "--format", "json")
    (line,) = result.lines
    assert json.loads(line) == {"service_id": a, "outcome": "ok", "message": "active -> suspended", "dry_run": False}


def test_ids_from_stdin(cli, db, admin, catalog, frozen):
    ids = [new_service(db, admin, catalog, status="active") for _ in range(3)]
    listed = cli("services", "list", "--status", "active", "--format", "ids").stdout
    result = cli("services", "suspend", "-", "--reason", "batch", "--yes", input=listed)
    assert result.exit_code == 0, result.stderr
    assert cli("services", "list", "--status", "suspended", "--format", "ids").lines == [str(i) for i in ids]


def test_multi_service_and_destructive_actions_need_yes_off_a_terminal(cli, db, admin, catalog, frozen):
    a, b = new_service(db, admin, catalog, status="active"), new_service(db, admin, catalog, status="active")
    many = cli("services", "suspend", str(a), str(b))
    assert many.exit_code == 2 and "--yes" in many.stderr and len(many.stderr.splitlines()) == 1
    destructive = cli("services", "terminate", str(a))
    assert destructive.exit_code == 2 and "--yes" in destructive.stderr
    assert cli("services", "list", "--status", "active", "--format", "ids").lines == [str(a), str(b)]
    assert cli("services", "terminate", str(a), "--yes").exit_code == 0


def test_bulk_selection_by_filters(cli, db, admin, catalog, frozen):
    due = new_service(db, admin, catalog, status="active", expires="2026-11-24")
    new_service(db, admin, catalog, status="active", expires="2027-11-24")
    result = cli("services", "add-days", "--expiring-within", "7d", "--status", "active", "--days", "30")
    assert result.exit_code == 0, result.stderr
    assert [line.split()[0] for line in result.lines] == [str(due)]


def test_dry_run_prints_and_changes_nothing(cli, db, admin, catalog, frozen):
    a, b = new_service(db, admin, catalog, status="active"), new_service(db, admin, catalog, status="terminated")
    result = cli("services", "suspend", str(a), str(b), "--dry-run")
    assert result.exit_code == 3
    assert "would: ok" in result.lines[0] and "skipped" in result.lines[1]
    assert cli("services", "list", "--status", "active", "--format", "ids").lines == [str(a)]


def test_partial_failure_exits_3_and_names_each_service(cli, db, admin, catalog, frozen):
    a, b = new_service(db, admin, catalog, status="active"), new_service(db, admin, catalog, status="pending")
    result = cli("services", "suspend", str(a), str(b), "--yes")
    assert result.exit_code == 3
    assert f"service {b} is pending: cannot suspend: allowed from active" in result.stdout


def test_refused_single_action_exits_1_naming_service_status_and_action(cli, db, admin, catalog, frozen):
    a = new_service(db, admin, catalog, status="terminated")
    before = every_row_digest(db)
    result = cli("services", "unsuspend", str(a))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"error: service {a} is terminated: cannot unsuspend: allowed from suspended\n"
    assert every_row_digest(db) == before, "a refused action on one service writes nothing, not even a bulk run"


def test_a_refused_action_on_several_services_is_a_bulk_run_naming_each(cli, db, admin, catalog, frozen):
    a, b = new_service(db, admin, catalog, status="terminated"), new_service(db, admin, catalog, status="terminated")
    result = cli("services", "unsuspend", str(a), str(b), "--yes")
    assert result.exit_code == 1
    assert [line.split()[:2] for line in result.lines] == [[str(a), "skipped"], [str(b), "skipped"]]
    assert f"service {b} is terminated: cannot unsuspend" in result.stdout and "2 skipped (run 1)" in result.stderr
    assert cli("services", "bulk", "list", "--format", "ids").lines == ["1"]


def test_a_dry_run_exits_as_the_real_run_would(cli, db, admin, catalog, frozen):
    good, refused, other = (new_service(db, admin, catalog, status=status) for status in ("active", "terminated", "terminated"))
    for ids in ([refused], [refused, other], [good, refused], [good]):
        args = ("services", "suspend", *map(str, ids), "--yes")
        before = every_row_digest(db)
        dry = cli(*args, "--dry-run")
        assert every_row_digest(db) == before, "a dry run wrote something"
        real = cli(*args)
        assert dry.exit_code == real.exit_code, (ids, dry.exit_code, real.exit_code, dry.stderr, real.stderr)
        if len(ids) == 1 and ids[0] == refused:
            assert dry.stderr == real.stderr and real.stderr.startswith(f"error: service {refused} is terminated: cannot suspend")
        cli("services", "unsuspend", str(good))


def test_roles_exit_4(cli, db, admin, catalog, frozen):
    a = new_service(db, admin, catalog, status="active")
    make_actor(db, "vic", "viewer")
    make_actor(db, "olga", "operator")
    as_viewer = cli("services", "suspend", str(a), env={"SUDO_USER": "vic"})
    assert as_viewer.exit_code == 4 and "vic is viewer" in as_viewer.stderr
    assert cli("services", "list", "--format", "ids", env={"SUDO_USER": "vic"}).exit_code == 0
    as_operator = cli("services", "terminate", str(a), "--yes", env={"SUDO_USER": "olga"})
    assert as_operator.exit_code == 4 and "needs the admin role" in as_operator.stderr
    stranger = cli("services", "list", env={"SUDO_USER": "mallory"})
    assert stranger.exit_code == 4 and "not an operator" in stranger.stderr
    impostor = cli("--as", "olga", "services", "list", env={"SUDO_USER": "vic"})
    assert impostor.exit_code == 4 and "only an admin" in impostor.stderr
    assert cli("--as", "olga", "services", "suspend", str(a)).exit_code == 0
    history = json.loads(cli("services", "history", str(a), "-f", "json").stdout)
    assert history[0]["actor"] == f"{admin.name} as olga"


def test_read_only_refuses_every_action(cli, db, admin, catalog, frozen):
    a = new_service(db, admin, catalog, status="active")
    result = cli("--read-only", "services", "suspend", str(a))
    assert result.exit_code == 4 and "read-only" in result.stderr
    assert cli("--read-only", "services", "show", str(a)).exit_code == 0


def test_catalog_commands(cli, frozen):
    setup_catalog(cli)
    assert json.loads(cli("customers", "show", "alice@example.com", "-f", "json").stdout)["company"] == "Pixel Forge"
    product = json.loads(cli("products", "show", "VPS S", "-f", "json").stdout)
    assert product["config"] == {"cores": 2, "label": "small"} and product["max_renewals"] == 10
    assert [price["billing_cycle"] for price in product["prices"]] == ["monthly", "annually"]
    server = json.loads(cli("servers", "show", "shared-1", "-f", "json").stdout)
    assert server["has_credentials"] is True and "credentials" not in server
    assert cli("customers", "edit", "alice@example.com", "--name", "Alice M.").exit_code == 0
    assert cli("products", "edit", "VPS S", "--price", "monthly=6.00").exit_code == 0
    assert cli("servers", "edit", "shared-1", "--enabled", "false").exit_code == 0
    assert cli("servers", "test", "shared-1").exit_code == 0
    assert len(cli("customers", "list").lines) == 2 and len(cli("products", "list").lines) == 2


def test_customer_rename_reaches_the_service_list(cli, db, admin, catalog, frozen):
    service_id = new_service(db, admin, catalog)
    cli("customers", "edit", str(catalog.customer_id), "--name", "Alice Renamed")
    assert json.loads(cli("services", "show", str(service_id), "-f", "json").stdout)["customer"] == "Alice Renamed"


def test_edit_and_history(cli, db, admin, catalog, frozen):
    a = new_service(db, admin, catalog)
    result = cli("services", "edit", str(a), "--name", "renamed", "--price", "9.99")
    assert result.exit_code == 0 and "price: 12.00 -> 9.99" in result.stderr
    stale = cli("services", "edit", str(a), "--notes", "x", "--expected-version", "1")
    assert stale.exit_code == 1 and "changed by" in stale.stderr
    history = cli("services", "history", str(a), "-f", "json")
    assert [row["action"] for row in json.loads(history.stdout)] == ["edit", "create"]


def test_options_and_meta_commands(cli, db, admin, catalog, frozen):
    a = new_service(db, admin, catalog, status="active")
    option_id = cli("services", "options", str(a), "add", "--name", "Backup", "--price", "2.00").stdout.strip()
    assert option_id.isdigit()
    assert cli("services", "options", str(a), "edit", option_id, "--quantity", "3").exit_code == 0
    rows = json.loads(cli("services", "options", str(a), "list", "-f", "json").stdout)
    assert rows[0]["quantity"] == 3 and rows[0]["price"] == "2.00"
    assert cli("services", "options", str(a), "remove", option_id).exit_code == 0
    assert json.loads(cli("services", "options", str(a), "list", "-f", "json").stdout) == []
    assert cli("services", "meta", str(a), "set", "order_id", "ORD-1").exit_code == 0
    assert json.loads(cli("services", "meta", str(a), "list", "-f", "json").stdout) == {"order_id": "ORD-1"}
    assert cli("services", "meta", str(a), "unset", "order_id").exit_code == 0
    assert cli("services", "meta", str(a), "get", "order_id").exit_code == 1


def test_import_makes_an_active_service_without_module_create(cli, db, admin, catalog, frozen):
    result = cli(
        "services",
        "import",
        "--customer",
        "alice@example.com",
        "--name",
        "legacy",
        "--product",
        "Web Pro",
        "--server",
        "shared-1",
        "--external",
        "acct-77",
        "-f",
        "json",
    )
    record = json.loads(result.stdout)
    assert (record["status"], record["external"]) == ("active", {"ref": "acct-77"})


def test_operators_and_settings(cli, frozen):
    assert cli("operators", "add", "bob", "--role", "operator").exit_code == 0
    logins = {row["login"]: row["role"] for row in json.loads(cli("operators", "list", "-f", "json").stdout)}
    assert logins["bob"] == "operator"
    assert cli("settings", "set", "renewal_grace_days", "10").exit_code == 0
    assert cli("settings", "get", "renewal_grace_days").stdout.strip() == "10"
    negative = cli("settings", "set", "suspend_after_days", "-1")
    assert negative.exit_code == 2 and "setting suspend_after_days" in negative.stderr
    assert cli("settings", "set", "smtp_password", "hunter2").exit_code == 0
    listing = cli("settings", "list")
    assert "hunter2" not in listing.stdout and "(set)" in listing.stdout
    assert cli("operators", "remove", "bob").exit_code == 0


def test_the_first_login_becomes_admin_of_a_new_database(tmp_path):
    from tests.conftest import Cli

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    fresh = Cli(url)
    assert fresh("db", "init", env={"SUDO_USER": "carol"}).exit_code == 0
    assert json.loads(fresh("operators", "list", "-f", "json", env={"SUDO_USER": "carol"}).stdout) == [
        {
            "login": "carol",
            "role": "admin",
            "created_at": json.loads(fresh("operators", "list", "-f", "json", env={"SUDO_USER": "carol"}).stdout)[0]["created_at"],
        }
    ]
    assert fresh("services", "list", env={"SUDO_USER": "dave"}).exit_code == 4
    assert (tmp_path / "fresh.db").stat().st_mode & 0o777 == 0o600


def test_help_texts_come_from_the_status_table(cli):
    result = cli("services", "suspend", "--help")
    assert result.exit_code == 0
    assert statuses.ACTIONS["suspend"].describe().split(".")[0] in " ".join(result.stdout.split())


def test_actions_select_by_every_list_filter(cli, db, admin, catalog, frozen):
    weekly = new_service(db, admin, catalog, status="active", cycle="weekly")
    new_service(db, admin, catalog, status="active", cycle="monthly")
    deleted = new_service(db, admin, catalog, status="deleted", cycle="weekly")
    result = cli("services", "add-days", "--cycle", "weekly", "--days", "2", "--yes")
    assert result.exit_code == 0, result.stderr
    assert [line.split()[0] for line in result.lines] == [str(weekly)]
    dry = cli("services", "add-days", "--cycle", "weekly", "--include-deleted", "--days", "2", "--dry-run")
    assert [line.split()[0] for line in dry.lines] == [str(weekly), str(deleted)]


def test_list_and_every_action_share_one_set_of_filter_options():
    from svcconsole.cli import app
    from svcconsole.cli.base import full_tree

    commands = full_tree(app).commands["services"].commands
    options = {name: {opt for param in command.params for opt in param.opts} for name, command in commands.items()}
    filters = {"--status", "--product", "--server", "--customer", "--cycle", "--search", "--expiring-within", "--include-deleted"}
    actions = ["suspend", "unsuspend", "cancel", "uncancel", "renew", "terminate", "delete", "redeliver", "deliver", "reinstall", "add-days", "subtract-days"]
    assert filters <= options["list"]
    for action in actions:
        assert filters <= options[action], (action, filters - options[action])


def test_list_csv_carries_exactly_the_json_keys_and_values(cli, db, admin, catalog, frozen):
    import csv
    import io

    a = new_service(db, admin, catalog, status="active", initial_price="3.00")
    new_service(db, admin, catalog, status="active", name="second")
    cli("services", "renew", str(a))
    cli("services", "cancel", str(a), "--mode", "end-of-cycle")
    cli("services", "suspend", "2", "--reason", "unpaid", "--kind", "overdue")
    records = json.loads(cli("services", "list", "--format", "json").stdout)
    table = list(csv.reader(io.StringIO(cli("services", "list", "--format", "csv").stdout)))
    header, rows = table[0], table[1:]
    assert header == list(records[0]) == list(records[1])
    assert {"anchor_day", "initial_price", "created_at", "renewals", "suspend_reason", "suspended_at", "cancel_at", "auto_renew"} <= set(header)

    def as_csv(value):
        return "" if value is None else ("true" if value is True else "false" if value is False else str(value))

    assert rows == [[as_csv(record[key]) for key in header] for record in records]
    first = dict(zip(header, rows[0], strict=True))
    assert (first["initial_price"], first["renewals"], first["auto_renew"], first["anchor_day"]) == ("3.00", "1", "true", "31")
    assert first["cancel_at"] == first["expires_at"] != "" and first["created_at"].endswith("Z")
    assert dict(zip(header, rows[1], strict=True))["suspend_reason"] == "unpaid"
