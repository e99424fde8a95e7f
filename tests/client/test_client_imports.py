"""The customer area reaches the data only through `core.customer` and the store's customer scope."""

import ast
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "svcconsole" / "client"
ALLOWED_CORE = {"svcconsole.core.customer", "svcconsole.core.errors", "svcconsole.core.parse", "svcconsole.core.statuses", "svcconsole.core.operators"}
ALLOWED_STORE = {"svcconsole.store.engine", "svcconsole.store.queries", "svcconsole.store.window"}


def runtime_imports(path: Path) -> set[str]:
    """Modules imported at run time (not under `if TYPE_CHECKING:`), `from x import y` as x.y too."""
    tree = ast.parse(path.read_text())
    typing_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If) and getattr(block.test, "id", "") == "TYPE_CHECKING" for node in ast.walk(block)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted(CLIENT.glob("*.py")), ids=lambda path: path.name)
def test_the_customer_area_imports_no_other_way_into_the_data(path):
    names = runtime_imports(path)
    core = {name for name in names if name.startswith("svcconsole.core.") and name.count(".") == 2}
    store = {name for name in names if name.startswith("svcconsole.store.") and name.count(".") == 2}
    assert core <= ALLOWED_CORE, core - ALLOWED_CORE
    assert store <= ALLOWED_STORE, store - ALLOWED_STORE
    assert not {name for name in names if name.split(".")[0] in {"sqlmodel", "sqlalchemy"}}
