"""The two-step create / import wizard (`n`), as the ClientXCMS admin guide describes it.

Step 1: customer, product (or none for a custom service), type, and create or import.
Step 2: the form; for an import, the module's existing resources on the chosen server, listed
in a worker (the manual module lists none, so a reference can be typed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from sqlmodel import col, select
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, ContentSwitcher, Footer, Label, Select, Static

from svcconsole.console.actions import bindings
from svcconsole.console.host import ConsoleHost
from svcconsole.console.messages import ActionFailed, ImportablesLoaded, ServiceCreated
from svcconsole.core import delivery, records
from svcconsole.core.catalog import prices_of, resolve_customer, resolve_product
from svcconsole.core.cycles import BillingCycle
from svcconsole.core.errors import InvalidInput, SvcError
from svcconsole.modules import ModuleError, module_names
from svcconsole.store.models import Product, Server
from svcconsole.widgets import render
from svcconsole.widgets.inputs import InertInput as Input
from svcconsole.widgets.messages import ServiceOpened

NO_PRODUCT = "__none__"
FORM_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("name", "Service name", ""),
    ("domain", "Domain", "optional: a host name, e.g. example.com"),
    ("expires", "Expiration", "YYYY-MM-DD (empty: one cycle from today)"),
    ("description", "Description", "visible to the customer"),
    ("price", "Price", "empty: the product's price for the cycle"),
    ("initial_price", "Initial price", "empty: the price"),
    ("notes", "Notes", "admin only"),
    ("max_renewals", "Max renewals", "empty: unlimited (or the product's)"),
)


def resource_label(resource: Any) -> Text:
    """'801  lobby-mc  0000aa01 · node 1 · running · 2048 MiB' for the import choice."""
    label = Text(f"{render.plain(resource.external_ref)}  {render.plain(resource.name)}", no_wrap=True, overflow="ellipsis")
    if resource.description:
        label.append(f"  {render.plain(resource.description)}", "dim")
    return label


@dataclass
class CatalogLoaded(Message):
    """Products and servers for the wizard's choices."""

    products: list[tuple[int, str, str]]
    servers: list[tuple[int, str, str]]


@dataclass
class StepChecked(Message):
    """Step 1 was checked: the customer found, the product's cycles known."""

    customer: str
    cycles: list[str]


class WizardScreen(Screen[None]):
    """Create or import a service in two steps; errors are shown next to the form."""

    BINDINGS = bindings("wizard")

    def __init__(self) -> None:
        super().__init__()
        self.products: list[tuple[int, str, str]] = []
        self.servers: list[tuple[int, str, str]] = []
        self.server_required = False

    @property
    def console_app(self) -> ConsoleHost:
        return self.app  # type: ignore[return-value]  # Textual types self.app as App; this screen runs in its own app

    def compose(self) -> ComposeResult:
        yield Static(Text("New service: step 1 of 2", style="bold"), id="wizard-title")
        with ContentSwitcher(initial="step1", id="steps"):
            with Vertical(id="step1", classes="form"):
                with Horizontal(classes="row"):
                    yield Label("Customer")
                    yield Input(placeholder="id or email", id="customer")
                with Horizontal(classes="row"):
                    yield Label("Product")
                    yield Select([("none (custom service)", NO_PRODUCT)], value=NO_PRODUCT, allow_blank=False, compact=True, id="product")
                with Horizontal(classes="row"):
                    yield Label("Type")
                    yield Select([(name, name) for name in module_names()], allow_blank=False, compact=True, id="type")
                with Horizontal(classes="row"):
                    yield Label("Create or import")
                    yield Select(
                        [("create a new service", "create"), ("import an existing one", "import")], value="create", allow_blank=False, compact=True, id="mode"
                    )
                yield Static(Text("The product's type must match the type; no product makes a custom service.", style="dim"))
            with VerticalScroll(id="step2", classes="form"):
                yield Static(id="step2-summary")
                for key, title, hint in FORM_FIELDS:
                    with Horizontal(classes="row"):
                        yield Label(title)
                        yield Input(placeholder=hint, id=key)
                with Horizontal(classes="row"):
                    yield Label("Server")
                    yield Select([], prompt="none", compact=True, id="server")
                with Horizontal(classes="row"):
                    yield Label("Cycle")
                    yield Select([(cycle.value, cycle.value) for cycle in BillingCycle], value="monthly", allow_blank=False, compact=True, id="cycle")
                with Horizontal(classes="row", id="external-row"):
                    yield Label("Existing resource")
                    yield Select([], prompt="choose a server first", compact=True, id="external-choice")
                with Horizontal(classes="row", id="external-typed-row"):
                    yield Label("Reference")
                    yield Input(placeholder="the panel's id of the resource", id="external")
        yield Static(id="form-error", classes="form-error")
        with Horizontal(classes="buttons"):
            yield Button("Back", id="back")
            yield Button("Next", id="next", variant="primary")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#form-error", Static).display = False
        self.query_one("#customer", Input).focus()
        self._load_catalog()

    @work(thread=True, exclusive=True, group="wizard-catalog")
    def _load_catalog(self) -> None:
        with self.console_app.db.read() as session:
            products = [(product.id or 0, product.name, product.type) for product in session.exec(select(Product).order_by(Product.name)).all()]
            servers = [
                (server.id or 0, server.name, server.module) for server in session.exec(select(Server).where(col(Server.enabled)).order_by(Server.name)).all()
            ]
        self.post_message(CatalogLoaded(products, servers))

    @on(CatalogLoaded)
    def _catalog_loaded(self, message: CatalogLoaded) -> None:
        self.products, self.servers = message.products, message.servers
        options = [("none (custom service)", NO_PRODUCT)] + [(f"{name} ({kind})", str(product_id)) for product_id, name, kind in message.products]
        self.query_one("#product", Select).set_options(options)
        self.query_one("#product", Select).value = NO_PRODUCT

    @on(Select.Changed, "#product")
    def _product_changed(self, event: Select.Changed) -> None:
        for product_id, _, kind in self.products:
            if str(product_id) == event.value:
                self.query_one("#type", Select).value = kind

    @property
    def mode(self) -> str:
        return str(self.query_one("#mode", Select).value)

    @property
    def step(self) -> str:
        return self.query_one(ContentSwitcher).current or "step1"

    # ------------------------------------------------------------------ step 1

    @on(Button.Pressed, "#next")
    def _next(self) -> None:
        if self.step == "step1":
            product = self.query_one("#product", Select).value
            self._check_step1(self.query_one("#customer", Input).value, None if product == NO_PRODUCT else str(product))
        else:
            self._submit()

    @on(Input.Submitted)
    def _enter(self) -> None:
        self._next()

    @work(thread=True, exclusive=True, group="wizard-check")
    def _check_step1(self, customer_text: str, product: str | None) -> None:
        try:
            with self.console_app.db.read() as session:
                if not customer_text.strip():
                    raise InvalidInput("customer", "a customer id or email is required")
                customer = resolve_customer(session, customer_text, "customer")
                cycles: list[str] = []
                if product:
                    cycles = [price.billing_cycle for price in prices_of(session, resolve_product(session, product, "product").id or 0)]
        except SvcError as error:
            self.post_message(ActionFailed(error.message))
            return
        self.post_message(StepChecked(f"{customer.name} <{customer.email}>", cycles))

    @on(StepChecked)
    def _step_checked(self, message: StepChecked) -> None:
        self._hide_error()
        module = str(self.query_one("#type", Select).value)
        importing = self.mode == "import"
        summary = Text()
        summary.append("Customer ", "dim")
        summary.append(render.plain(message.customer), "bold")
        product = self.query_one("#product", Select).value
        product_name = next((name for product_id, name, _ in self.products if str(product_id) == product), "none (custom)")
        summary.append("  product ", "dim")
        summary.append(render.plain(product_name), "bold")
        summary.append(f"  type {module}", "dim")
        self.query_one("#step2-summary", Static).update(summary)
        servers = [(name, str(server_id)) for server_id, name, kind in self.servers if kind == module]
        self.server_required = records.needs_server(module)
        server = self.query_one("#server", Select)
        server.set_options(servers)
        if self.server_required:
            server.prompt = "required: choose one" if servers else f"none: add a {module} server first"
        else:
            server.prompt = "none"
        if message.cycles:
            self.query_one("#cycle", Select).set_options([(cycle, cycle) for cycle in message.cycles])
            self.query_one("#cycle", Select).value = "monthly" if "monthly" in message.cycles else message.cycles[0]
        self.query_one("#external-row").display = importing
        self.query_one("#external-typed-row").display = importing
        self.query_one(ContentSwitcher).current = "step2"
        self.query_one("#wizard-title", Static).update(Text(f"{'Import' if importing else 'New'} service: step 2 of 2", style="bold"))
        self.query_one("#next", Button).label = "Import" if importing else "Create"
        self._allow_submit()
        self.query_one("#name", Input).focus()

    def _server_missing(self) -> bool:
        return self.server_required and self.query_one("#server", Select).value is Select.NULL

    def _allow_submit(self) -> None:
        """Create (Import) stays off while the module needs a server and none is chosen."""
        if self.step == "step2":
            self.query_one("#next", Button).disabled = self._server_missing()

    # ------------------------------------------------------------------ step 2

    @on(Select.Changed, "#server")
    def _server_changed(self, event: Select.Changed) -> None:
        self._allow_submit()
        if self.mode == "import" and event.value is not Select.NULL:
            self.query_one("#external-choice", Select).set_options([])
            self._list_importable(int(str(event.value)))

    @work(thread=True, exclusive=True, group="wizard-importable")
    def _list_importable(self, server_id: int) -> None:
        try:
            importables = delivery.list_importable(self.console_app.db, server_id)
        except Exception as error:  # noqa: BLE001 - shown beside the form; the admin can type a reference
            self.post_message(ImportablesLoaded([], f"listing resources failed: {error}"))
            return
        self.post_message(ImportablesLoaded(importables.resources, linked_note=importables.linked_note))

    @on(ImportablesLoaded)
    def _importables(self, message: ImportablesLoaded) -> None:
        choice = self.query_one("#external-choice", Select)
        options = [(resource_label(item), item.external_ref) for item in message.resources]
        choice.set_options(options)
        choice.prompt = f"one of {render.plural(len(options), 'resource')} on the panel" if options else "none listed: type the reference"
        if message.linked_note:
            choice.prompt += f" ({message.linked_note})"
        if message.error:
            self._show_error(message.error)
        elif not options:
            self.notify("this module lists no existing resources: type the reference", timeout=4)

    @on(Select.Changed, "#external-choice")
    def _external_chosen(self, event: Select.Changed) -> None:
        if event.value is not Select.NULL:
            self.query_one("#external", Input).value = str(event.value)

    def draft(self) -> records.ServiceDraft:
        def value(selector: str) -> str | None:
            text = self.query_one(selector, Input).value.strip()
            return text or None

        product = self.query_one("#product", Select).value
        server = self.query_one("#server", Select).value
        return records.ServiceDraft(
            customer=self.query_one("#customer", Input).value.strip(),
            name=self.query_one("#name", Input).value,
            product=None if product == NO_PRODUCT else str(product),
            type=str(self.query_one("#type", Select).value),
            cycle=str(self.query_one("#cycle", Select).value),
            price=value("#price"),
            initial_price=value("#initial_price"),
            server=None if server is Select.NULL else str(server),
            expires=value("#expires"),
            description=value("#description"),
            domain=value("#domain"),
            notes=value("#notes"),
            max_renewals=value("#max_renewals"),
            external=value("#external") if self.mode == "import" else None,
        )

    def _submit(self) -> None:
        if self._server_missing():
            module = str(self.query_one("#type", Select).value)
            self._show_error(f"server: a {module} service needs a server; choose the one its panel runs on")
            return
        self._create(self.draft(), self.mode == "import")

    @work(thread=True, exclusive=True, group="wizard-create")
    def _create(self, draft: records.ServiceDraft, importing: bool) -> None:
        """Create the service, or import it with what its panel says of the resource (as the CLI does)."""
        app = self.console_app
        try:
            if importing:
                found = delivery.importable_external(app.db, draft.server, draft.external) if draft.external else None
                service_id = app.db.transaction(lambda session: records.import_service(session, app.actor, draft, external=found).id or 0)
            else:
                service_id = app.db.transaction(lambda session: records.create_service(session, app.actor, draft).id or 0)
        except SvcError as error:
            self.post_message(ActionFailed(error.message))
            return
        except ModuleError as error:
            self.post_message(ActionFailed(f"the panel could not say what {draft.external} is: {error.message}"))
            return
        self.post_message(ServiceCreated(service_id, importing))

    @on(ServiceCreated)
    def _created(self, message: ServiceCreated) -> None:
        verb = "imported" if message.imported else "created"
        self.notify(f"service {message.service_id} {verb}", timeout=4)
        self.dismiss(None)
        self.post_message(ServiceOpened(message.service_id))

    @on(ActionFailed)
    def _failed(self, message: ActionFailed) -> None:
        message.stop()
        self._show_error(message.error)

    def _show_error(self, error: str) -> None:
        widget = self.query_one("#form-error", Static)
        widget.update(Text(render.plain(error), style="bold red"))
        widget.display = True
        field = error.split(":", 1)[0].strip().removeprefix("--").replace("-", "_")
        found = self.query(f"#{field}") if field.isidentifier() else None
        if found:
            found.first().focus()

    def _hide_error(self) -> None:
        self.query_one("#form-error", Static).display = False

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()

    def action_back(self) -> None:
        if self.step == "step2":
            self.query_one(ContentSwitcher).current = "step1"
            self.query_one("#wizard-title", Static).update(Text("New service: step 1 of 2", style="bold"))
            self.query_one("#next", Button).label = "Next"
            self.query_one("#next", Button).disabled = False
            self._hide_error()
            return
        self.dismiss(None)


__all__ = ["WizardScreen"]
