"""Shared fixtures: a fresh real database per test (SQLite, or PostgreSQL when
SVCCONSOLE_TEST_DATABASE_URL is set), a frozen clock, a CLI runner and quick data builders.

Each test gets its own database copied from a migrated template, so tests are independent
and fast: a file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on PostgreSQL.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_SANDBOX_HOME = Path(tempfile.mkdtemp(prefix="svcconsole-tests-home-"))
for _variable in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
    os.environ[_variable] = str(_SANDBOX_HOME / _variable.lower())
os.environ.pop("SVCCONSOLE_DATABASE_URL", None)
os.environ.pop("SVCCONSOLE_SECRET_KEY", None)
os.environ.pop("SUDO_USER", None)
os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
os.environ["TZ"] = "UTC"

import pytest  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from svcconsole.cli import app  # noqa: E402
from svcconsole.core import clock, operators  # noqa: E402
from svcconsole.core.context import acting_operator, open_database  # noqa: E402
from svcconsole.core.operators import Actor  # noqa: E402
from svcconsole.store import schema  # noqa: E402
from svcconsole.store.engine import Database  # noqa: E402

TEST_DATABASE_URL_ENV = "SVCCONSOLE_TEST_DATABASE_URL"


def _quicker_pilot_idle_checks() -> None:
    """Let Textual's Pilot check for an idle app every 5 ms instead of every 20 ms.

    Each simulated key press waits twice for the app to look idle, in steps of this granularity;
    at 20 ms a test that types a filter spends most of its time asleep. The console tests do not
    rely on the idle guess: they wait for the app's workers to finish (tests/console/conftest.settle).
    """
    import textual._wait

    textual._wait.SLEEP_GRANULARITY = 0.005
    textual._wait.SLEEP_IDLE = textual._wait.SLEEP_GRANULARITY / 20


_quicker_pilot_idle_checks()
FROZEN_NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)


def postgres_base_url() -> str | None:
    url = os.environ.get(TEST_DATABASE_URL_ENV)
    if not url:
        return None
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _admin_engine(base_url: str):  # type: ignore[no-untyped-def]
    return create_engine(base_url, isolation_level="AUTOCOMMIT")


class PostgresDatabases:
    """Fresh copies of the template database, made ahead and dropped behind by a thread.

    CREATE DATABASE ... TEMPLATE and DROP DATABASE each wait on the disk (about 0.06 and 0.09 s);
    doing them beside the running tests instead of before and after each takes that wait out of
    every test. Making copies comes first: a used copy is dropped only while AHEAD copies are
    ready, so a run of quick tests never waits behind drops.
    """

    AHEAD = 3

    def __init__(self, base_url: str, template: str) -> None:
        self.admin = _admin_engine(base_url)
        self.template = template
        self.ready: queue.Queue[str | BaseException] = queue.Queue()
        self.changed = threading.Condition()
        self.to_make = self.AHEAD
        self.to_drop: list[str] = []
        self.undropped: list[str] = []
        self.closing = False
        self.thread = threading.Thread(target=self._run, name="test-databases", daemon=True)
        self.thread.start()

    def _execute(self, statement: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(statement))

    def _next_job(self) -> str | None:
        """ "" to make a copy, a name to drop, or None to stop."""
        with self.changed:
            while not self.closing and self.to_make == 0 and not self.to_drop:
                self.changed.wait()
            if self.closing:
                return None
            if self.to_make:
                self.to_make -= 1
                return ""
            return self.to_drop.pop()

    def _run(self) -> None:
        while (job := self._next_job()) is not None:
            if job:
                try:
                    self._execute(f'DROP DATABASE IF EXISTS "{job}" WITH (FORCE)')
                except Exception:  # noqa: BLE001 - close() tries it again, and fails the run there if it still cannot
                    self.undropped.append(job)
                continue
            try:
                name = f"svct_{os.getpid()}_{uuid.uuid4().hex[:10]}"
                self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
                self.ready.put(name)
            except Exception as error:  # noqa: BLE001 - handed to the test that waits for a database
                self.ready.put(error)

    def take(self) -> str:
        """A fresh database's name; another one starts being made for the next test."""
        name = self.ready.get(timeout=120)
        with self.changed:
            self.to_make += 1
            self.changed.notify()
        if isinstance(name, BaseException):
            raise name
        return name

    def give_back(self, name: str) -> None:
        with self.changed:
            self.to_drop.append(name)
            self.changed.notify()

    def copy_of(self, template: str, name: str) -> None:
        """Make database `name` as a copy of `template`, now (for templates other than the empty one)."""
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')

    def drop_now(self, name: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        """Stop the thread, then drop what is left (used and unused copies)."""
        with self.changed:
            self.closing = True
            self.changed.notify()
        self.thread.join(timeout=120)
        left = [*self.to_drop, *self.undropped]
        while not self.ready.empty():
            name = self.ready.get()
            if isinstance(name, str):
                left.append(name)
        for name in left:
            self.drop_now(name)
        self.admin.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | PostgresDatabases]:
    """A migrated, empty database to copy for each test: a file path, or PostgreSQL copies of one."""
    base = postgres_base_url()
    if base is None:
        path = tmp_path_factory.mktemp("template") / "template.db"
        db = open_database(f"sqlite:///{path}")
        db.dispose()
        yield str(path)
        return
    name = f"svct_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _admin_engine(base)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001
        pytest.exit(f"PostgreSQL at {base} is unreachable: {error}", returncode=3)
    db = Database(make_url(base).set(database=name).render_as_string(hide_password=False))
    schema.upgrade(db)
    db.dispose()
    copies = PostgresDatabases(base, name)
    yield copies
    copies.close()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


DEMO_SERVICES, DEMO_RANDOM_SEED = 300, 3
"""What the `demo` fixture holds: the demo seed of 300 services from random seed 3, at FROZEN_NOW."""


class DemoTemplate:
    """The demo data seeded once per test process into a database of its own, copied for each
    test that asks for `demo` (seeding it again for every console test would cost a third of a
    second each, the same rows every time)."""

    def __init__(self, database_template: str | PostgresDatabases, folder: Path) -> None:
        self.database_template = database_template
        self.folder = folder
        self.made: str | None = None

    def _seed(self, url: str) -> None:
        from svcconsole.core import seed

        database = open_database(url)
        clock.freeze(FROZEN_NOW)
        try:
            seed.seed_demo(database, services=DEMO_SERVICES, random_seed=DEMO_RANDOM_SEED)
        finally:
            clock.freeze(None)
            database.dispose()

    def copy(self, tmp_path: Path) -> tuple[str, str | None]:
        """A fresh copy's URL, and on PostgreSQL the database's name to drop after the test."""
        base = postgres_base_url()
        if base is None or isinstance(self.database_template, str):
            if self.made is None:
                self.made = str(self.folder / "demo.db")
                shutil.copy(str(self.database_template), self.made)
                self._seed(f"sqlite:///{self.made}")
            path = tmp_path / "svcconsole.db"
            shutil.copy(self.made, path)
            os.chmod(path, 0o600)
            return f"sqlite:///{path}", None
        if self.made is None:
            self.made = f"svct_demo_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            self.database_template.copy_of(self.database_template.template, self.made)
            self._seed(make_url(base).set(database=self.made).render_as_string(hide_password=False))
        name = f"svct_{os.getpid()}_{uuid.uuid4().hex[:10]}"
        self.database_template.copy_of(self.made, name)
        return make_url(base).set(database=name).render_as_string(hide_password=False), name

    def drop(self) -> None:
        if self.made is not None and isinstance(self.database_template, PostgresDatabases):
            self.database_template.drop_now(self.made)


@pytest.fixture(scope="session")
def demo_template(database_template: str | PostgresDatabases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTemplate]:
    template = DemoTemplate(database_template, tmp_path_factory.mktemp("demo"))
    yield template
    template.drop()


@pytest.fixture
def db_url(request: pytest.FixtureRequest, database_template: str | PostgresDatabases, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh database for this test: empty, or a copy of the demo data when the test
    asks for the `demo` fixture."""
    if "demo" in request.fixturenames:
        demo_copy: DemoTemplate = request.getfixturevalue("demo_template")
        url, name = demo_copy.copy(tmp_path)
        yield url
        if name is not None and isinstance(database_template, PostgresDatabases):
            database_template.give_back(name)
        return
    base = postgres_base_url()
    if base is None or isinstance(database_template, str):
        path = tmp_path / "svcconsole.db"
        shutil.copy(str(database_template), path)
        os.chmod(path, 0o600)
        yield f"sqlite:///{path}"
        return
    name = database_template.take()
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    database_template.give_back(name)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    from svcconsole.modules.ratelimits import set_rate_limiter_factory

    database = open_database(db_url)
    yield database
    set_rate_limiter_factory(None)
    database.dispose()


@pytest.fixture
def demo(db: Database, frozen: datetime) -> Database:
    """A small deterministic store: the demo seed of 300 services from a fixed random seed at the
    frozen time (`db_url` makes `db` a copy of it, seeded once by DemoTemplate)."""
    return db


@pytest.fixture
def frozen() -> Iterator[datetime]:
    """Stop the clock at FROZEN_NOW for the test."""
    clock.freeze(FROZEN_NOW)
    yield FROZEN_NOW
    clock.freeze(None)


@pytest.fixture(autouse=True)
def config_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test reads config.toml and views.toml from an empty folder of its own, never the user's."""
    folder = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("SVCCONSOLE_CONFIG_DIR", str(folder))
    for variable in [name for name in os.environ if name.startswith("SVCCONSOLE_KEYS_")]:
        monkeypatch.delenv(variable)
    for variable in ("SVCCONSOLE_THEME", "SVCCONSOLE_TIMEZONE", "SVCCONSOLE_COLUMNS"):
        monkeypatch.delenv(variable, raising=False)
    return folder


@pytest.fixture(autouse=True)
def _unfreeze_after_test() -> Iterator[None]:
    yield
    clock.freeze(None)


@pytest.fixture
def admin(db: Database) -> Actor:
    """The first admin (the OS login running the tests)."""
    return acting_operator(db)


def make_actor(db: Database, login: str, role: str) -> Actor:
    """An operator with `role`, added by the first admin."""
    first = acting_operator(db)
    db.transaction(lambda session: operators.add_operator(session, first, login, role))
    return acting_operator(db, login=login)


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.strip()]


def _command_built_once():  # type: ignore[no-untyped-def]
    """typer rebuilds the whole command tree on every CliRunner.invoke (~90 ms); build it once."""
    import typer.main
    import typer.testing

    built: dict[int, object] = {}

    def get_command(typer_app):  # type: ignore[no-untyped-def]
        command = built.get(id(typer_app))
        if command is None:
            command = built[id(typer_app)] = typer.main.get_command(typer_app)
        return command

    typer.testing._get_command = get_command


_command_built_once()


class Cli:
    """Runs `svcconsole --db URL ...` in-process through typer's CliRunner."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> CliResult:
        result = self.runner.invoke(app, ["--db", self.url, *args], input=input, env=env, catch_exceptions=False, prog_name="svcconsole")
        return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli(db: Database) -> Cli:
    return Cli(db.url)


@dataclass
class Fixtures:
    """Ids of a small catalog: one customer, a manual product and server, and helpers."""

    customer_id: int
    product_id: int
    server_id: int


@pytest.fixture
def catalog(db: Database, admin: Actor) -> Fixtures:
    from svcconsole.core import catalog as catalog_module

    def work(session):  # type: ignore[no-untyped-def]
        customer = catalog_module.add_customer(session, admin, name="Alice Martin", email="alice@example.com")
        product = catalog_module.add_product(
            session, admin, name="Web Pro", type="manual", prices=["monthly=12.00", "annually=120.00", "weekly=3.00", "quarterly=33.00"]
        )
        server = catalog_module.add_server(session, admin, name="shared-1", module="manual", url="https://shared-1.example.net")
        return Fixtures(customer.id or 0, product.id or 0, server.id or 0)

    return db.transaction(work)


def new_service(db: Database, actor: Actor, catalog: Fixtures, **fields: str | None) -> int:
    """Create a service of the catalog's product (pending unless `status` is given)."""
    from svcconsole.core import records

    status = fields.pop("status", None)
    values = {
        "customer": str(catalog.customer_id),
        "name": "svc",
        "product": str(catalog.product_id),
        "server": str(catalog.server_id),
        "expires": "2027-01-31",
    }
    values.update({key: value for key, value in fields.items()})
    draft = records.ServiceDraft(**values)  # type: ignore[arg-type]
    service = db.transaction(lambda session: records.create_service(session, actor, draft))
    if status and status != "pending":
        db.transaction(lambda session: records.edit_service(session, actor, service.id or 0, {"status": status}, reason="test setup"))
    return service.id or 0


@dataclass
class ScriptedCatalog:
    """A customer, a `scripted` product and server, and the script that drives the module."""

    customer_id: int
    product_id: int
    server_id: int
    script: object


@pytest.fixture
def scripted(db: Database, admin: Actor) -> Iterator[ScriptedCatalog]:
    from svcconsole.core import catalog as catalog_module
    from tests.support import scripted_module

    script = scripted_module.install()

    def work(session):  # type: ignore[no-untyped-def]
        customer = catalog_module.add_customer(session, admin, name="Bruno Rossi", email="bruno@example.com")
        product = catalog_module.add_product(session, admin, name="Game 4GB", type="scripted", prices=["monthly=12.00"])
        server = catalog_module.add_server(session, admin, name="panel-1", module="scripted", url="https://panel-1.example.net", credentials="secret-token-123")
        return ScriptedCatalog(customer.id or 0, product.id or 0, server.id or 0, script)

    yield db.transaction(work)
    scripted_module.uninstall()
