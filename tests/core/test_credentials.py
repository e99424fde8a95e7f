"""Provisioned credentials (issue 16, item 2) through core and the CLI, with the scripted module:
stored encrypted at delivery, shown to admins (each view logged), reset on the panel (the
customer mailed, without the password), shared logins updated, forgotten with the resource."""

import json

from sqlalchemy import text
from sqlmodel import select

from svcconsole.core import actions, jobs, records
from svcconsole.store.models import Activity, Notification, Service
from tests.conftest import make_actor


def delivered(db, admin, scripted, name="game"):
    draft = records.ServiceDraft(
        customer=str(scripted.customer_id), name=name, product=str(scripted.product_id), server=str(scripted.server_id), expires="2027-01-31"
    )
    service_id = db.transaction(lambda session: records.create_service(session, admin, draft)).id
    db.transaction(lambda session: actions.perform(session, admin, "deliver", service_id, {}))
    jobs.run_jobs(db, jobs.due_job_ids(db))
    return service_id


def raw_credentials(db, service_id):
    with db.engine.connect() as connection:
        return connection.execute(text("SELECT credentials FROM service WHERE id = :id"), {"id": service_id}).scalar()


def rows_of(db, service_id, action):
    with db.read() as session:
        return list(session.exec(select(Activity).where(Activity.service_id == service_id, Activity.action == action)).all())


def test_delivery_stores_the_login_encrypted_and_an_admin_sees_it_logged(db, admin, scripted, cli, frozen):
    service_id = delivered(db, admin, scripted)
    stored = raw_credentials(db, service_id)
    assert stored.startswith("fernet:") and scripted.script.password not in stored

    result = cli("services", "credentials", str(service_id), "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"service_id": service_id, "username": f"user{scripted.customer_id}", "password": scripted.script.password}
    table = cli("services", "credentials", str(service_id))
    assert f"password  {scripted.script.password}" in table.stdout
    viewed = rows_of(db, service_id, "credentials_viewed")
    assert len(viewed) == 2 and viewed[0].actor == admin.name
    assert all(scripted.script.password not in json.dumps(row.details) for row in viewed)
    assert scripted.script.password not in cli("services", "show", str(service_id), "-f", "json").stdout


def test_operators_and_viewers_may_not_see_or_reset_credentials(db, admin, scripted, cli, frozen):
    service_id = delivered(db, admin, scripted)
    make_actor(db, "otto", "operator")
    for extra in ([], ["--reset"]):
        result = cli("--as", "otto", "services", "credentials", str(service_id), *extra)
        assert result.exit_code == 4, result.stderr
        assert scripted.script.password not in result.stdout + result.stderr
    assert rows_of(db, service_id, "credentials_viewed") == [] and scripted.script.count("change_password") == 0


def test_reset_sets_a_new_password_on_the_panel_updates_the_shared_login_and_mails_the_customer(db, admin, scripted, cli, frozen):
    service_id = delivered(db, admin, scripted)
    sibling = delivered(db, admin, scripted, name="second")
    result = cli("services", "credentials", str(service_id), "--reset", "--reason", "customer locked out", "-f", "json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    new_password = f"{scripted.script.password}-1"
    assert (shown["password"], shown["shared_with"]) == (new_password, [sibling])
    assert scripted.script.count("change_password", service_id) == 1
    assert json.loads(cli("services", "credentials", str(sibling), "-f", "json").stdout)["password"] == new_password

    [row] = rows_of(db, service_id, "credentials_reset")
    assert row.reason == "customer locked out" and row.details["shared_with"] == [sibling]
    assert new_password not in json.dumps(row.details)
    with db.read() as session:
        [mail] = session.exec(select(Notification).where(Notification.template == "credentials_reset")).all()
    assert mail.service_id == service_id and mail.subject == "A new password for game"
    assert f'login "user{scripted.customer_id}"' in mail.body and new_password not in mail.body


def test_reset_is_refused_in_one_line_where_it_cannot_apply(db, admin, scripted, catalog, cli, frozen):
    service_id = delivered(db, admin, scripted)
    db.transaction(lambda session: _set(session, service_id, operation="renewal"))
    busy = cli("services", "credentials", str(service_id), "--reset")
    assert busy.exit_code == 1 and "an operation is in progress: renewal" in busy.stderr
    manual = db.transaction(
        lambda session: records.create_service(
            session, admin, records.ServiceDraft(customer=str(catalog.customer_id), name="m", product=str(catalog.product_id), server=str(catalog.server_id))
        )
    ).id
    db.transaction(lambda session: records.edit_service(session, admin, manual, {"status": "active"}, reason="test"))
    for args in (["--reset"], []):
        result = cli("services", "credentials", str(manual), *args)
        assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
        assert "provisioned no credentials" in result.stderr
    assert cli("services", "credentials", "x").exit_code == 2
    assert scripted.script.count("change_password") == 0


def test_terminating_forgets_the_login(db, admin, scripted, cli, frozen):
    service_id = delivered(db, admin, scripted)
    assert cli("services", "terminate", str(service_id), "--yes").exit_code == 0
    assert raw_credentials(db, service_id) is None
    assert cli("services", "credentials", str(service_id)).exit_code == 1


def _set(session, service_id, **fields):
    service = session.get(Service, service_id)
    for key, value in fields.items():
        setattr(service, key, value)
    session.add(service)
