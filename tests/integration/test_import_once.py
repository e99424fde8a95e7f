"""A panel resource belongs to at most one live service (issue 12, item 2), against the sandbox
panels over HTTP: an import of a resource another pending, active or suspended service of the
same server holds is refused with one line naming that service; two imports at once cannot both
win (a unique index decides); `services importable` leaves linked resources out and says how many."""

from __future__ import annotations

import json
import threading

import pytest
from sqlmodel import select

from svcconsole.core import delivery, records
from svcconsole.core.errors import AlreadyLinked
from svcconsole.core.operators import Actor
from svcconsole.modules.sandbox.proxmox import ExistingVm
from svcconsole.store.engine import Database, DuplicateValue
from svcconsole.store.models import Service
from tests.reliability.support import finish, spawn_cli, stop

IMPORT = ("services", "import", "--customer", "greta@example.com", "--product", "Paper 4GB", "--server", "ptero-1")


def linked_line(reference: str, service_id: int, name: str, status: str, server: str = "ptero-1") -> str:
    """The refusal, written from the issue: the resource, its server and the service holding it."""
    return f"error: --external: resource {reference} on server {server} is already service {service_id} ({name}, {status})\n"


def holders(db: Database, key: str) -> list[tuple[int, str, str | None]]:
    with db.read() as session:
        rows = session.exec(select(Service.id, Service.status, Service.external_key).where(Service.external_key == key).order_by(Service.id)).all()  # type: ignore[call-overload]
    return [tuple(row) for row in rows]


def test_importing_a_resource_twice_is_refused_naming_the_service_that_holds_it(cli, db, panels):
    reference = str(panels.ptero.seed_servers(3)[1])
    first = cli(*IMPORT, "--name", "legacy", "--external", reference, "-f", "ids")
    assert first.exit_code == 0, first.stderr
    service_id = int(first.stdout)

    again = cli(
        "services", "import", "--customer", "greta@example.com", "--name", "copy", "--product", "Paper 4GB", "--server", "ptero-1", "--external", reference
    )

    assert again.exit_code == 1
    assert again.stderr == linked_line(reference, service_id, "legacy", "active")
    assert again.stdout == ""
    assert holders(db, reference) == [(service_id, "active", reference)]
    assert cli("services", "suspend", str(service_id), "--kind", "overdue").exit_code == 0
    suspended = cli(*IMPORT, "--name", "copy", "--external", reference)
    assert (suspended.exit_code, suspended.stderr) == (1, linked_line(reference, service_id, "legacy", "suspended"))


def test_a_proxmox_vm_is_imported_once_too(cli, db, panels):
    vmid = str(panels.pve.add_vms([ExistingVm(name="old-vps")])[0])
    args = ("services", "import", "--customer", "greta@example.com", "--product", "VPS M", "--server", "pve-1", "--external", vmid)
    first = cli(*args, "--name", "old-vps", "-f", "ids")
    assert first.exit_code == 0, first.stderr
    again = cli(*args, "--name", "other-vps")
    assert (again.exit_code, again.stderr) == (1, linked_line(vmid, int(first.stdout), "old-vps", "active", "pve-1"))


def test_importable_lists_only_resources_not_linked_and_says_how_many_it_left_out(cli, panels):
    references = [str(server_id) for server_id in panels.ptero.seed_servers(4)]
    for number, reference in enumerate(references[:3]):
        assert cli(*IMPORT, "--name", f"legacy-{number}", "--external", reference).exit_code == 0

    listed = cli("services", "importable", "ptero-1", "-f", "json")
    ids = cli("services", "importable", "ptero-1", "-f", "ids")

    assert listed.exit_code == 0, listed.stderr
    assert [row["external"] for row in json.loads(listed.stdout)] == [references[3]]
    assert listed.stderr == "3 already linked, not shown\n"
    assert ids.stdout.split() == [references[3]]


def test_a_delivered_services_resource_is_neither_listed_nor_importable(cli, db, panels):
    created = json.loads(
        cli(
            "services",
            "create",
            "--customer",
            "greta@example.com",
            "--name",
            "greta-mc",
            "--product",
            "Paper 4GB",
            "--server",
            "ptero-1",
            "--deliver",
            "-f",
            "json",
        ).stdout
    )
    assert created["status"] == "active"
    reference = str(created["external"]["server_id"])
    assert holders(db, reference) == [(created["id"], "active", reference)]

    listed = cli("services", "importable", "ptero-1", "-f", "ids")
    refused = cli(*IMPORT, "--name", "stolen", "--external", reference)

    assert listed.stdout.split() == [] and listed.stderr == "1 already linked, not shown\n"
    assert (refused.exit_code, refused.stderr) == (1, linked_line(reference, created["id"], "greta-mc", "active"))


def test_after_terminate_the_key_is_released_and_the_resource_can_be_imported_again(cli, db, panels):
    reference = str(panels.ptero.seed_servers(2)[0])
    first = int(cli(*IMPORT, "--name", "legacy", "--external", reference, "-f", "ids").stdout)
    marked = cli("services", "edit", str(first), "--status", "terminated", "--reason", "moved to another reseller; the panel keeps the server")
    assert marked.exit_code == 0, marked.stderr

    listed = cli("services", "importable", "ptero-1", "-f", "ids")
    again = cli(*IMPORT, "--name", "legacy again", "--external", reference, "-f", "ids")

    assert reference in listed.stdout.split() and listed.stderr == ""
    assert again.exit_code == 0, again.stderr
    assert holders(db, reference) == [(first, "terminated", reference), (int(again.stdout), "active", reference)]

    terminated = cli("services", "terminate", again.stdout.strip(), "--yes")
    assert terminated.exit_code == 0, terminated.stderr
    assert holders(db, reference) == [(first, "terminated", reference)], "the panel server is gone: the terminated service forgets it"


@pytest.mark.parametrize(
    "leave", [("terminate", "--yes"), ("cancel", "--mode", "immediate", "--yes"), ("edit", "--status", "expired", "--reason", "expired by hand")]
)
def test_a_manual_reference_is_free_again_once_its_service_is_no_longer_live(cli, db, catalog, leave):
    args = (
        "services",
        "import",
        "--customer",
        str(catalog.customer_id),
        "--product",
        str(catalog.product_id),
        "--server",
        str(catalog.server_id),
        "--external",
        "rack-7",
    )
    first = cli(*args, "--name", "rack", "-f", "ids")
    assert first.exit_code == 0, first.stderr
    refused = cli(*args, "--name", "rack copy")
    assert (refused.exit_code, refused.stderr) == (1, linked_line("rack-7", int(first.stdout), "rack", "active", "shared-1"))

    left = cli("services", *leave[:1], first.stdout.strip(), *leave[1:])
    assert left.exit_code == 0, left.stderr

    again = cli(*args, "--name", "rack again")
    assert again.exit_code == 0, again.stderr


# ----------------------------------------------------------------------------- races


def _draft(name: str, reference: str) -> records.ServiceDraft:
    return records.ServiceDraft(customer="greta@example.com", name=name, product="Paper 4GB", server="ptero-1", external=reference)


def test_an_import_racing_another_that_has_not_committed_yet_is_refused_by_the_unique_index(db, admin: Actor, panels, cli):
    """The first import holds its transaction open; the second starts while the first row is not
    visible to it (on PostgreSQL it passes the look-up and waits on the index; on SQLite it waits
    for the write lock), and ends with the same one-line refusal once the first commits."""
    reference = str(panels.ptero.seed_servers(1)[0])
    found = delivery.importable_external(db, "ptero-1", reference)
    first_flushed, second_started = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def second() -> None:
        second_started.set()
        try:
            outcome["service"] = db.transaction(lambda session: records.import_service(session, admin, _draft("second", reference), external=found).id)
        except Exception as error:  # noqa: BLE001 - the test looks at what was raised
            outcome["error"] = error

    with db.write() as session:
        first = records.import_service(session, admin, _draft("first", reference), external=found)
        first_flushed.set()
        racer = threading.Thread(target=second)
        racer.start()
        assert second_started.wait(5)
        racer.join(1.0)
        assert racer.is_alive(), "the second import must wait for the first transaction"
    racer.join(30)

    assert "service" not in outcome
    assert isinstance(outcome["error"], AlreadyLinked)
    assert str(outcome["error"]) == f"--external: resource {reference} on server ptero-1 is already service {first.id} (first, active)"
    assert holders(db, reference) == [(first.id, "active", reference)]


def test_two_import_processes_at_once_one_wins_the_other_is_refused_in_one_line(db, db_url, panels):
    reference = str(panels.ptero.seed_servers(1)[0])
    processes = []
    try:
        for name in ("left", "right"):
            processes.append(spawn_cli(db_url, *IMPORT, "--name", name, "--external", reference, "-f", "ids"))
        results = [finish(process) for process in processes]
    finally:
        for process in processes:
            stop(process)

    winners = [(code, out) for code, out, _ in results if code == 0]
    losers = [(code, err) for code, _, err in results if code != 0]
    assert len(winners) == 1 and len(losers) == 1, results
    winner_id = int(winners[0][1])
    winner_name = "left" if results[0][0] == 0 else "right"
    assert losers[0] == (1, linked_line(reference, winner_id, winner_name, "active"))
    assert holders(db, reference) == [(winner_id, "active", reference)]


def test_the_database_refuses_a_second_live_holder_whatever_writes_it(db, admin: Actor, panels):
    """The constraint itself, under every writer: a row added without the import's look-up."""
    reference = str(panels.ptero.seed_servers(1)[0])
    found = delivery.importable_external(db, "ptero-1", reference)
    holder = db.transaction(lambda session: records.import_service(session, admin, _draft("holder", reference), external=found))

    def sneak_in(session):  # type: ignore[no-untyped-def]
        copy = session.get(Service, holder.id)
        clone = Service(**{key: value for key, value in copy.model_dump().items() if key not in {"id", "uuid"}}, uuid="00000000-0000-4000-8000-00000000abcd")
        session.add(clone)
        session.flush()

    with pytest.raises(DuplicateValue) as raised:
        db.transaction(sneak_in)
    assert raised.value.columns == ("server_id", "external_key")

    def clone_as(status: str):  # type: ignore[no-untyped-def]
        def work(session):  # type: ignore[no-untyped-def]
            copy = session.get(Service, holder.id)
            session.add(
                Service(
                    **{key: value for key, value in copy.model_dump().items() if key not in {"id", "uuid", "status"}},
                    status=status,
                    uuid=f"00000000-0000-4000-8000-0000000{len(status):05d}",
                )
            )

        return work

    db.transaction(clone_as("terminated"))
    assert [status for _, status, _ in holders(db, reference)] == ["active", "terminated"]
