"""Customer, product, server and operator changes write an activity row (no service) naming the
object, its actor and what changed; `customers|products|servers show` list them."""

import json

from sqlmodel import select

from svcconsole.core import activity, catalog, operators
from svcconsole.store.models import Activity


def object_rows(db):
    with db.read() as session:
        return [(row.actor, row.action, row.details) for row in session.exec(select(Activity).where(Activity.service_id == None).order_by(Activity.id))]  # noqa: E711


def test_every_catalog_and_operator_change_is_in_the_activity_log(db, admin, frozen):
    customer = db.transaction(lambda session: catalog.add_customer(session, admin, name="Ann", email="ann@example.com"))
    db.transaction(lambda session: catalog.edit_customer(session, admin, "ann@example.com", name="Ann Lee", email="lee@example.com"))
    product = db.transaction(lambda session: catalog.add_product(session, admin, name="Box", type="manual", prices=["monthly=5.00"]))
    db.transaction(lambda session: catalog.edit_product(session, admin, "Box", prices=["monthly=6", "annually=60"], max_renewals="3"))
    server = db.transaction(
        lambda session: catalog.add_server(session, admin, name="s1", module="manual", url="https://s1.example.net", credentials="tok-very-secret")
    )
    db.transaction(lambda session: catalog.edit_server(session, admin, "s1", credentials="tok-other-secret", enabled=False))
    db.transaction(lambda session: operators.add_operator(session, admin, "bob", "viewer"))
    db.transaction(lambda session: operators.add_operator(session, admin, "bob", "operator"))
    db.transaction(lambda session: operators.remove_operator(session, admin, "bob"))
    rows = object_rows(db)
    assert {actor for actor, _, _ in rows} == {admin.name}
    assert [action for _, action, _ in rows] == [
        "customer_add",
        "customer_edit",
        "product_add",
        "product_edit",
        "server_add",
        "server_edit",
        "operator_add",
        "operator_role",
        "operator_remove",
    ]
    details = {action: detail for _, action, detail in rows}
    assert details["customer_add"] == {"customer": customer.id, "name": "Ann", "email": "ann@example.com", "company": None, "notes": None, "locale": None}
    assert details["customer_edit"] == {"customer": customer.id, "name": ["Ann", "Ann Lee"], "email": ["ann@example.com", "lee@example.com"]}
    assert details["product_edit"] == {
        "product": product.id,
        "prices": [{"monthly": "5.00"}, {"monthly": "6.00", "annually": "60.00"}],
        "max_renewals": [None, 3],
    }
    assert details["server_edit"] == {"server": server.id, "enabled": [True, False], "credentials": "replaced"}
    assert details["operator_role"] == {"operator": "bob", "role": ["viewer", "operator"]}
    assert "secret" not in json.dumps(rows)


def test_an_edit_that_changes_nothing_writes_no_row(db, admin, frozen):
    db.transaction(lambda session: catalog.add_customer(session, admin, name="Ann", email="ann@example.com"))
    db.transaction(lambda session: operators.add_operator(session, admin, "bob", "viewer"))
    before = object_rows(db)
    db.transaction(lambda session: catalog.edit_customer(session, admin, "ann@example.com", name="Ann"))
    db.transaction(lambda session: operators.add_operator(session, admin, "bob", "viewer"))
    assert object_rows(db) == before


def test_changes_of_lists_one_objects_rows_newest_first(db, admin, frozen):
    first = db.transaction(lambda session: catalog.add_customer(session, admin, name="Ann", email="ann@example.com"))
    other = db.transaction(lambda session: catalog.add_customer(session, admin, name="Bob", email="bob@example.com"))
    db.transaction(lambda session: catalog.edit_customer(session, admin, str(first.id), company="ACME"))
    db.transaction(lambda session: operators.add_operator(session, admin, "ann", "viewer"))
    with db.read() as session:
        assert [row.action for row in activity.changes_of(session, "customer", first.id)] == ["customer_edit", "customer_add"]
        assert [row.details["customer"] for row in activity.changes_of(session, "customer", other.id)] == [other.id]
        assert [row.action for row in activity.changes_of(session, "operator", "ann")] == ["operator_add"]


def test_show_commands_list_the_recent_changes(cli, frozen):
    assert cli("customers", "add", "--name", "Ann", "--email", "ann@example.com").exit_code == 0
    assert cli("customers", "edit", "ann@example.com", "--company", "ACME").exit_code == 0
    shown = json.loads(cli("customers", "show", "ann@example.com", "-f", "json").stdout)
    assert [row["action"] for row in shown["history"]] == ["customer_edit", "customer_add"]
    assert shown["history"][0]["details"] == {"customer": shown["id"], "company": [None, "ACME"]}
    assert cli("servers", "add", "--name", "s1", "--module", "manual", "--url", "https://s1.example.net").exit_code == 0
    table = cli("servers", "show", "s1").stdout
    assert "history:" in table and "server_add" in table
    assert cli("products", "add", "--name", "Box", "--type", "manual", "--price", "monthly=5").exit_code == 0
    assert json.loads(cli("products", "show", "Box", "-f", "json").stdout)["history"][0]["action"] == "product_add"
