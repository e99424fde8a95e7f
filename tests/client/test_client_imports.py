"""The customer area reaches the data only through `core.customer` (its changes: `core.customer_actions`) and the store's customer scope.

By imports (a client module imports no other core or store module, and nothing of the admin console) and by
structure (no method of a class the customer area runs, its base classes included, refers to
an unscoped query, the admin's selection of marked rows or an admin dialog).
"""

import ast
import inspect
import types
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "svcconsole" / "client"
ALLOWED_CORE = {
    "svcconsole.core.customer",
    "svcconsole.core.customer_actions",
    "svcconsole.core.errors",
    "svcconsole.core.parse",
    "svcconsole.core.statuses",
    "svcconsole.core.operators",
    "svcconsole.core.i18n",  # the customer's language and its formats: no data, only catalogs and Babel
}
ALLOWED_STORE = {"svcconsole.store.engine"}
ADMIN_ONLY_NAMES = {
    "queries",
    "filters",
    "services",
    "actions",
    "records",
    "lookups",
    "resolve",
    "Marks",
    "SelectionResolved",
    "ServiceWindow",
    "ask_action",
    "bulk_menu",
    "edit_service",
    "new_service",
    "ActionRequested",
    "BulkMenuRequested",
    "EditRequested",
    "NewServiceRequested",
    "read_detail",
    "read_panel",
}
"""Names that only admin paths use: the unscoped store queries and filters, core's service modules
(actions, records, lookups), the marked-rows resolver, and the admin app's action, bulk, edit and
wizard entry points with the messages that ask for them."""
ADMIN_ONLY_ACTIONS = (
    "action_service_action",
    "action_edit_service",
    "action_new_service",
    "action_toggle_mark",
    "action_mark_all",
    "action_bulk_menu",
    "_resolve_selection",
)


def runtime_imports(path: Path) -> set[str]:
    """Modules imported at run time (not under `if TYPE_CHECKING:`), `from x import y` as x.y too."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(node) for block in ast.walk(tree) if isinstance(block, ast.If) and getattr(block.test, "id", "") == "TYPE_CHECKING" for node in ast.walk(block)
    }
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
    admin_console = {name for name in names if name == "svcconsole.console" or name.startswith("svcconsole.console.")}
    assert core <= ALLOWED_CORE, core - ALLOWED_CORE
    assert store <= ALLOWED_STORE, store - ALLOWED_STORE
    assert not admin_console, admin_console
    assert not {name for name in names if name.split(".")[0] in {"sqlmodel", "sqlalchemy"}}


def customer_area_classes() -> list[type]:
    from svcconsole.client import app, dialogs, screens, widgets

    return [
        app.ClientApp,
        screens.DashboardScreen,
        screens.ClientServicesScreen,
        screens.ClientDetailScreen,
        dialogs.RenewDialog,
        dialogs.CancelDialog,
        widgets.ActiveServices,
    ]


def referenced_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= referenced_names(constant)
    return names


def own_code(cls: type) -> dict[str, types.CodeType]:
    """The code of every function, property and lambda defined on `cls` itself."""
    found = {}
    for name, member in vars(cls).items():
        for function in (member, getattr(member, "fget", None), getattr(member, "__wrapped__", None), getattr(member, "__func__", None)):
            if inspect.isfunction(function):
                found[name] = function.__code__
    return found


@pytest.mark.parametrize("cls", customer_area_classes(), ids=lambda cls: cls.__name__)
def test_no_method_the_customer_area_runs_refers_to_an_admin_path(cls):
    from svcconsole.console.screens.detail import DetailScreen
    from svcconsole.console.screens.services import ServicesScreen

    assert not issubclass(cls, (ServicesScreen, DetailScreen))
    for ancestor in cls.__mro__:
        if not ancestor.__module__.startswith("svcconsole."):
            continue
        for name, code in own_code(ancestor).items():
            used = referenced_names(code) & ADMIN_ONLY_NAMES
            assert not used, f"{ancestor.__qualname__}.{name} refers to {sorted(used)}"
    assert not [name for name in ADMIN_ONLY_ACTIONS if hasattr(cls, name)]


def test_the_admin_list_keeps_its_admin_half():
    from svcconsole.console.screens.services import ServicesScreen
    from svcconsole.widgets.service_list import ServiceListScreen

    assert all(hasattr(ServicesScreen, name) for name in ADMIN_ONLY_ACTIONS)
    assert not [name for name in ADMIN_ONLY_ACTIONS if hasattr(ServiceListScreen, name)]
    assert referenced_names(ServicesScreen.count_by_status.__code__) >= {"queries", "counts_by_status"}
