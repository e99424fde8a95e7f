"""Files svcconsole creates are its owner's only, whatever the umask: the SQLite file (and its
WAL and shared-memory files), the key file and backups (the log: test_secrets_scan.py).

tests/store/test_schema.py checks a copied test database; these create everything from nothing.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from svcconsole.core import logs, secrets
from svcconsole.core.context import key_file_for, open_database
from tests.conftest import Cli, postgres_base_url

pytestmark = pytest.mark.skipif(postgres_base_url() is not None, reason="file modes are about the SQLite file and its key file")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.fixture
def fresh(tmp_path: Path, open_umask, monkeypatch) -> Iterator[Cli]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(logs.LOG_FILE_ENV, str(tmp_path / "logs" / "operations.log"))
    monkeypatch.delenv(secrets.SECRET_KEY_ENV, raising=False)
    yield Cli(f"sqlite:///{tmp_path / 'data' / 'svcconsole.db'}")
    secrets.configure(None)


def test_a_new_database_its_wal_its_key_and_its_backup_are_0600(fresh, tmp_path):
    assert fresh("db", "init").exit_code == 0
    database = tmp_path / "data" / "svcconsole.db"
    assert mode(database) == 0o600 and mode(database.parent) == 0o700
    assert fresh("servers", "add", "--name", "p", "--module", "manual", "--url", "https://p.example.net", "--credentials", "k-secret-value").exit_code == 0
    key = database.with_name("svcconsole.db.key")
    assert key.exists() and mode(key) == 0o600
    db = open_database(fresh.url)
    try:
        with db.engine.connect() as connection:
            connection.exec_driver_sql("UPDATE setting SET value = value")
            sidecars = [database.with_name("svcconsole.db-wal"), database.with_name("svcconsole.db-shm")]
            assert all(path.exists() for path in sidecars)
            assert [mode(path) for path in sidecars] == [0o600, 0o600]
    finally:
        db.dispose()
    backup = tmp_path / "elsewhere" / "copy.db"
    assert fresh("db", "backup", str(backup)).exit_code == 0
    assert mode(backup) == 0o600


def test_the_key_from_the_environment_leaves_no_key_file(tmp_path, open_umask, monkeypatch):
    from cryptography.fernet import Fernet

    monkeypatch.setenv(secrets.SECRET_KEY_ENV, Fernet.generate_key().decode())
    db = open_database(f"sqlite:///{tmp_path / 'env.db'}")
    try:
        stored = secrets.encrypt("a-server-password")
        assert stored.startswith(secrets.PREFIX) and "a-server-password" not in stored
        assert secrets.decrypt(stored) == "a-server-password"
        assert not key_file_for(db).exists()
    finally:
        db.dispose()
        secrets.configure(None)


def test_the_customer_area_never_creates_a_database(tmp_path, open_umask):
    missing = tmp_path / "nowhere" / "svcconsole.db"
    result = Cli(f"sqlite:///{missing}")("client", "--customer", "alice@example.com")
    assert result.exit_code == 1 and "never creates one" in result.stderr
    assert not missing.exists() and not missing.parent.exists()


def test_a_key_file_others_may_read_is_refused_in_one_line_until_it_is_0600(fresh, tmp_path):
    assert fresh("db", "init").exit_code == 0
    assert fresh("servers", "add", "--name", "p", "--module", "manual", "--url", "https://p.example.net", "--credentials", "k-secret-1").exit_code == 0
    key = tmp_path / "data" / "svcconsole.db.key"
    for loose in (0o644, 0o640, 0o606):
        key.chmod(loose)
        refused = fresh("servers", "add", "--name", f"q{loose}", "--module", "manual", "--url", "https://q.example.net", "--credentials", "k-secret-2")
        assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
        assert f"has mode {loose:04o}" in refused.stderr and f"chmod 600 {key}" in refused.stderr
    assert [line for line in fresh("servers", "list", "-f", "ids").stdout.split()] == ["1"]
    key.chmod(0o600)
    assert fresh("servers", "add", "--name", "q", "--module", "manual", "--url", "https://q.example.net", "--credentials", "k-secret-2").exit_code == 0
    key.chmod(0o400)
    assert fresh("servers", "test", "q").exit_code == 0
