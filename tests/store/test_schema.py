"""Migrations, the schema check, file modes and online backups."""

import sqlite3

import pytest

from svcconsole.store import schema
from tests.conftest import new_service


def test_migrations_produce_exactly_the_models(db):
    report = schema.check(db)
    assert report.differences == []
    assert report.current == report.head
    assert report.ok


def test_check_notices_a_drifted_schema(db):
    with db.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE stray (id INTEGER PRIMARY KEY)")
    report = schema.check(db)
    assert not report.ok
    assert any("stray" in difference for difference in report.differences)


def test_db_check_command(cli):
    result = cli("db", "check", "--format", "json")
    assert result.exit_code == 0 and '"ok": true' in result.stdout


def test_sqlite_backup_is_a_consistent_private_copy(db, admin, catalog, tmp_path, cli):
    if not db.is_sqlite:
        pytest.skip("a file backup is SQLite's; PostgreSQL is backed up with its own tools")
    ids = [new_service(db, admin, catalog) for _ in range(3)]
    target = tmp_path / "copy.db"
    result = cli("db", "backup", str(target))
    assert result.exit_code == 0, result.stderr
    assert target.stat().st_mode & 0o777 == 0o600
    with sqlite3.connect(target) as copy:
        assert [row[0] for row in copy.execute("SELECT id FROM service ORDER BY id")] == ids
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again = cli("db", "backup", str(target))
    assert again.exit_code == 1 and "exists" in again.stderr


def test_sqlite_database_and_key_files_are_0600(db, admin, cli):
    if not db.is_sqlite:
        pytest.skip("file modes are about the SQLite database file and its key file")
    cli("servers", "add", "--name", "p", "--module", "manual", "--url", "https://p.example.net", "--credentials", "k")
    assert db.sqlite_file.stat().st_mode & 0o777 == 0o600
    key = db.sqlite_file.with_name(db.sqlite_file.name + ".key")
    assert key.exists() and key.stat().st_mode & 0o777 == 0o600


def test_upgrade_on_a_current_database_changes_nothing(cli):
    result = cli("db", "upgrade")
    assert result.exit_code == 0 and "up to date" in result.stderr


def test_the_revision_a_launch_checks_is_the_migrations_head(db):
    assert schema.HEAD_REVISION == schema.head_revision()
    assert schema.current_revision(db) == schema.HEAD_REVISION


def test_opening_a_database_loads_neither_alembic_nor_the_panel_adapters(db_url):
    """Launch time: Alembic is for `db upgrade` and `db check`; the adapters' HTTP layer waits for
    a panel call (PostgreSQL's shared rate limiter is set in `modules.ratelimits`, which needs no HTTP client)."""
    import subprocess
    import sys

    probe = (
        "import sys; from svcconsole.core.context import open_database; open_database(sys.argv[1]).dispose(); "
        "print(' '.join(sorted({name.split('.')[0] for name in sys.modules} & {'alembic', 'mako', 'httpx'})))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe, db_url], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []
