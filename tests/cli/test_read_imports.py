"""The CLI's read commands import only what they read (issue 19).

Each command runs in a fresh interpreter, the way a script calls the CLI once per service,
and reports every module it imported. The svcconsole modules of `services list` are held to the
list below, written by hand: a new import on that path fails here until it is added on purpose.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from svcconsole.store.engine import Database

REPORT_MODULES = """
import json, sys
sys.argv = ["svcconsole", *sys.argv[1:]]
from svcconsole.cli import main
try:
    main()
except SystemExit as exit:
    code = exit.code
else:
    code = 0
print("\\n" + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

SERVICES_LIST_MODULES = {
    "svcconsole",
    "svcconsole.cli",
    "svcconsole.cli.base",
    "svcconsole.cli.main",
    "svcconsole.cli.output",
    "svcconsole.cli.services_read",
    "svcconsole.core",
    "svcconsole.core.action_base",
    "svcconsole.core.activity",
    "svcconsole.core.catalog",
    "svcconsole.core.clock",
    "svcconsole.core.config",
    "svcconsole.core.context",
    "svcconsole.core.cycles",
    "svcconsole.core.errors",
    "svcconsole.core.filters",
    "svcconsole.core.i18n",
    "svcconsole.core.invoice_lookups",
    "svcconsole.core.logins",
    "svcconsole.core.logs",
    "svcconsole.core.lookups",
    "svcconsole.core.operators",
    "svcconsole.core.option_catalog",
    "svcconsole.core.overage",
    "svcconsole.core.parse",
    "svcconsole.core.paths",
    "svcconsole.core.placement",
    "svcconsole.core.ratelimit",
    "svcconsole.core.records",
    "svcconsole.core.renewal_limits",
    "svcconsole.core.secrets",
    "svcconsole.core.settings",
    "svcconsole.core.status_override",
    "svcconsole.core.statuses",
    "svcconsole.core.usage",
    "svcconsole.core.views",
    "svcconsole.modules",
    "svcconsole.modules.base",
    "svcconsole.modules.ratelimits",
    "svcconsole.modules.tls",
    "svcconsole.store",
    "svcconsole.store.domains",
    "svcconsole.store.engine",
    "svcconsole.store.invoices",
    "svcconsole.store.jobs",
    "svcconsole.store.models",
    "svcconsole.store.queries",
    "svcconsole.store.schema",
    "svcconsole.store.search",
    "svcconsole.store.sort_keys",
}
"""What `services list` may import of svcconsole: the list's own command, the store, and the core it reads through."""

NEVER_ON_A_READ_PATH = ("textual", "httpx", "cryptography", "alembic", "jinja2", "mako", "babel", "rich")
"""The issue's list (no Textual, httpx, cryptography, Alembic or Jinja), with Alembic's Mako and Babel."""


def imported_by(url: str, *args: str) -> set[str]:
    """The modules a fresh interpreter has loaded once `svcconsole --db URL ARGS` has run."""
    done = subprocess.run([sys.executable, "-c", REPORT_MODULES, "--db", url, *args], capture_output=True, text=True, timeout=120, check=False)
    report = json.loads(done.stdout.rstrip().rsplit("\n", 1)[-1])
    assert report["code"] in (0, 3, None), done.stderr
    return set(report["modules"])


def test_services_list_imports_exactly_its_own_modules(db: Database, demo: Database) -> None:
    modules = imported_by(db.url, "services", "list", "--limit", "5", "--format", "ids")
    assert {name for name in modules if name.startswith("svcconsole")} == SERVICES_LIST_MODULES


@pytest.mark.parametrize(
    "command",
    [
        ("services", "list", "--limit", "5"),
        ("services", "show", "1"),
        ("invoices", "list", "--limit", "5"),
        ("jobs", "list", "--limit", "5"),
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_a_read_command_imports_no_console_panel_client_crypto_migration_or_template_code(db: Database, demo: Database, command: tuple[str, ...]) -> None:
    modules = imported_by(db.url, *command)
    assert {name.split(".")[0] for name in modules} & set(NEVER_ON_A_READ_PATH) == set()
    assert not {name for name in modules if name.startswith(("svcconsole.console", "svcconsole.client", "svcconsole.widgets", "svcconsole.modules."))} - {
        "svcconsole.modules.base",
        "svcconsole.modules.ratelimits",
        "svcconsole.modules.tls",
    }
    assert "svcconsole.core.actions" not in modules
