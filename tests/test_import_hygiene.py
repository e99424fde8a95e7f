"""The headless layers never import a front end (SPEC.md section 1)."""

import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "svcconsole"
HEADLESS = ("core", "store", "modules")
FRONT_ENDS = ("textual", "typer")
"""The front ends' packages. click is not one: typer 0.29 no longer runs on it, and httpx imports
it (for its own command line) whenever it is installed, as import-linter installs it."""


@pytest.mark.parametrize("layer", HEADLESS)
def test_layer_imports_no_front_end(layer):
    modules = sorted(
        "svcconsole." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts) for path in (PACKAGE / layer).rglob("*.py") if "migrations" not in path.parts
    )
    assert modules, f"no modules found in svcconsole/{layer}"
    code = (
        "import sys, importlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name.removesuffix('.__init__'))\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FRONT_ENDS!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"svcconsole/{layer} pulls in: {result.stdout.strip()}"


@pytest.mark.parametrize("layer", HEADLESS)
def test_layer_source_has_no_front_end_import(layer):
    offenders = []
    for path in (PACKAGE / layer).rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import textual", "from textual", "import typer", "from typer", "import click", "from click")):
                offenders.append(f"{path.relative_to(PACKAGE)}: {stripped}")
    assert offenders == []
