"""`customers`, `products` and `servers`: list, add, show, edit (and `servers test`)."""

from __future__ import annotations

from typing import Any

import typer
from sqlmodel import Session, col, func, select

from svcconsole.cli.base import new_app, read_session, state
from svcconsole.cli.output import (
    ALL_OPTION,
    FORMAT_OPTION,
    LIMIT_OPTION,
    Format,
    data,
    emit,
    emit_pages,
    json_out,
    key_values,
    message,
    parse_format,
    row_limit,
)
from svcconsole.core import activity, catalog, delivery, option_catalog, placement, views
from svcconsole.core.errors import InvalidInput
from svcconsole.core.lookups import settings_of
from svcconsole.core.operators import require
from svcconsole.core.parse import parse_bool
from svcconsole.core.statuses import NON_TRANSITION_ROLES
from svcconsole.modules import ModuleError
from svcconsole.store.models import Customer, Product, Server, Service

customers_app = new_app("Customers: list, add, show, edit.")
products_app = new_app("Products, their prices and their option catalogue: list, add, show, edit, options.")
servers_app = new_app("Servers (panels and hosts): list, add, show, edit, test.")

OVERAGE_OPTION = typer.Option([], "--overage", help="A metered resource METRIC=INCLUDED:PRICE (traffic_gb=100:0.05; METRIC= removes), repeatable.")
CUSTOMER_OPTIONS_OPTION = typer.Option(None, "--customer-options/--no-customer-options", help="Customers may add options from the catalogue.")
CUSTOMER_CYCLE_OPTION = typer.Option(None, "--customer-cycle/--no-customer-cycle", help="Customers may change the renewal cycle.")
CUSTOMER_DELETE_OPTION = typer.Option(None, "--customer-delete/--no-customer-delete", help="Customers may delete their service.")
CUSTOMER_POWER_OPTION = typer.Option(None, "--customer-power/--no-customer-power", help="Customers may start, stop, restart and reinstall.")
CUSTOMER_SUSPEND_OPTION = typer.Option(None, "--customer-suspend/--no-customer-suspend", help="Customers may suspend and resume it.")
"""The options `products add` and `products edit` share: overages and what customers may do themselves."""


def _print_shown(fmt: Format, record: dict[str, Any]) -> None:
    """A customer, product or server: its fields, then its recent changes (newest first)."""
    if fmt is Format.JSON:
        json_out(record)
        return
    key_values({key: value for key, value in record.items() if key != "history"})
    if record["history"]:
        data("\nhistory:")
        emit(record["history"], ["at", "actor", "action", "details"], Format.TABLE)


def _history(session: Session, subject: str, subject_id: int | None) -> list[dict[str, Any]]:
    return [views.activity_dict(row) for row in activity.changes_of(session, subject, subject_id or 0, limit=HISTORY_ROWS)]


HISTORY_ROWS = 10


def _print_added(fmt: Format, record_id: int | None, as_dict: dict[str, Any]) -> None:
    if fmt is Format.JSON:
        json_out(as_dict)
    else:
        data(str(record_id))


# ----------------------------------------------------------------------------- customers


@customers_app.command("list")
def customers_list(
    ctx: typer.Context,
    search: str | None = typer.Option(None, "--search", help="Part of a name or email."),
    limit: str | None = LIMIT_OPTION,
    every: bool = ALL_OPTION,
    fmt: str = FORMAT_OPTION,
) -> None:
    """List customers (newest first)."""
    output = parse_format(fmt)
    maximum = row_limit(limit, every, output)
    with read_session(ctx) as session:
        query = select(Customer)
        if search:
            pattern = f"%{search.lower()}%"
            query = query.where(func.lower(Customer.name).like(pattern) | Customer.email.like(pattern))  # type: ignore[attr-defined]

        def fetch(before: int | None, size: int) -> list[Customer]:
            page = query if before is None else query.where(Customer.id < before)  # type: ignore[operator]
            return list(session.exec(page.order_by(Customer.id.desc()).limit(size)).all())  # type: ignore[union-attr]

        emit_pages(fetch, lambda customer: customer.id, views.customer_dict, ["id", "name", "email", "company", "created_at"], output, maximum)


@customers_app.command("add")
def customers_add(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="Full name."),
    email: str = typer.Option(..., "--email", help="Unique email address."),
    company: str | None = typer.Option(None, "--company"),
    locale: str | None = typer.Option(None, "--locale", help="Language of their customer area and mails: en or fr (default: the default_locale setting)."),
    fmt: str = FORMAT_OPTION,
) -> None:
    """Add a customer; prints its id."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON, Format.IDS))
    cli = state(ctx)
    customer = cli.db.transaction(lambda session: catalog.add_customer(session, cli.actor, name=name, email=email, company=company, locale=locale))
    _print_added(output, customer.id, views.customer_dict(customer))


@customers_app.command("show")
def customers_show(ctx: typer.Context, customer: str = typer.Argument(..., help="Id or email."), fmt: str = FORMAT_OPTION) -> None:
    """Show a customer, how many services it has per status, and its recent changes."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    with read_session(ctx) as session:
        record = catalog.resolve_customer(session, customer)
        result = views.customer_dict(record)
        counts = session.exec(select(Service.status, func.count()).where(Service.customer_id == record.id).group_by(Service.status)).all()
        result["services"] = {status: total for status, total in counts}
        result["history"] = _history(session, "customer", record.id)
    _print_shown(output, result)


@customers_app.command("edit")
def customers_edit(
    ctx: typer.Context,
    customer: str = typer.Argument(..., help="Id or email."),
    name: str | None = typer.Option(None, "--name"),
    email: str | None = typer.Option(None, "--email"),
    company: str | None = typer.Option(None, "--company", help="Company name (empty clears it)."),
    notes: str | None = typer.Option(None, "--notes", help="The admins' notes about the customer (empty clears them)."),
    locale: str | None = typer.Option(None, "--locale", help="en or fr (empty: the default_locale setting)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json (the customer as saved)."),
) -> None:
    """Change a customer's name, email, company, notes or language."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    cli = state(ctx)
    record = cli.db.transaction(
        lambda session: catalog.edit_customer(session, cli.actor, customer, name=name, email=email, company=company, notes=notes, locale=locale)
    )
    if output is Format.JSON:
        json_out(views.customer_dict(record))
        return
    message(f"customer {record.id} saved")


# ----------------------------------------------------------------------------- products


@products_app.command("list")
def products_list(ctx: typer.Context, limit: str | None = LIMIT_OPTION, every: bool = ALL_OPTION, fmt: str = FORMAT_OPTION) -> None:
    """List products with their prices."""
    output = parse_format(fmt)
    maximum = row_limit(limit, every, output)
    with read_session(ctx) as session:

        def fetch(after: int | None, size: int) -> list[Product]:
            query = select(Product) if after is None else select(Product).where(Product.id > after)  # type: ignore[operator]
            return list(session.exec(query.order_by(Product.id).limit(size)).all())  # type: ignore[arg-type]

        def record(product: Product) -> dict:  # type: ignore[type-arg]
            shown = views.product_dict(product, catalog.prices_of(session, product.id or 0))
            shown["price_list"] = ", ".join(f"{price['billing_cycle']}={price['price']} {price['currency']}" for price in shown["prices"])
            return shown

        emit_pages(fetch, lambda product: product.id, record, ["id", "name", "type", "price_list", "max_renewals"], output, maximum)


@products_app.command("add")
def products_add(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name"),
    type: str = typer.Option(..., "--type", help="The module that delivers it (manual, pterodactyl, proxmox)."),
    price: list[str] = typer.Option([], "--price", help="CYCLE=AMOUNT, repeatable (monthly=12.00)."),
    currency: str | None = typer.Option(None, "--currency", help="Three-letter code (default: the currency setting)."),
    max_renewals: str | None = typer.Option(None, "--max-renewals", help="Renewal limit (empty = unlimited)."),
    config: list[str] = typer.Option([], "--config", help="Module config KEY=VALUE, repeatable."),
    upgrade_to: list[str] = typer.Option([], "--upgrade-to", help="A product it can be upgraded to, repeatable."),
    no_customer_cancel: bool = typer.Option(False, "--no-customer-cancel", help="Customers may not cancel it themselves."),
    servers: str | None = typer.Option(None, "--servers", help="The group of servers delivery picks from, in order: a,b ('' empties it)."),
    placement: str | None = typer.Option(None, "--placement", help="How the group fills: least-used (default) or fill-first."),
    overage: list[str] = OVERAGE_OPTION,
    customer_options: bool | None = CUSTOMER_OPTIONS_OPTION,
    customer_cycle: bool | None = CUSTOMER_CYCLE_OPTION,
    customer_delete: bool | None = CUSTOMER_DELETE_OPTION,
    customer_power: bool | None = CUSTOMER_POWER_OPTION,
    customer_suspend: bool | None = CUSTOMER_SUSPEND_OPTION,
    fmt: str = FORMAT_OPTION,
) -> None:
    """Add a product; prints its id. Self-service (--customer-*) is off unless turned on."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON, Format.IDS))
    cli = state(ctx)

    def work(session: Session) -> tuple[Product, dict[str, Any]]:
        product = catalog.add_product(
            session,
            cli.actor,
            name=name,
            type=type,
            prices=price,
            currency=currency,
            max_renewals=max_renewals,
            config=config,
            upgrade_to=upgrade_to,
            allow_customer_cancel=not no_customer_cancel,
            default_currency=settings_of(session)["currency"],
            servers=servers,
            placement=placement,
            overages=overage,
            customer_flags=_customer_flags(customer_options, customer_cycle, customer_delete, customer_power, customer_suspend),
        )
        return product, views.product_dict(product, catalog.prices_of(session, product.id or 0))

    product, record = cli.db.transaction(work)
    _print_added(output, product.id, record)


@products_app.command("show")
def products_show(ctx: typer.Context, product: str = typer.Argument(..., help="Id or name."), fmt: str = FORMAT_OPTION) -> None:
    """Show a product, its prices and config, and its recent changes."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    with read_session(ctx) as session:
        record = catalog.resolve_product(session, product)
        result = views.product_dict(record, catalog.prices_of(session, record.id or 0))
        result["history"] = _history(session, "product", record.id)
    _print_shown(output, result)


@products_app.command("edit")
def products_edit(
    ctx: typer.Context,
    product: str = typer.Argument(..., help="Id or name."),
    name: str | None = typer.Option(None, "--name"),
    price: list[str] = typer.Option([], "--price", help="CYCLE=AMOUNT to add or change, repeatable."),
    max_renewals: str | None = typer.Option(None, "--max-renewals", help="Renewal limit ('none' = unlimited)."),
    config: list[str] = typer.Option([], "--config", help="KEY=VALUE to set (KEY= removes), repeatable."),
    upgrade_to: list[str] | None = typer.Option(None, "--upgrade-to", help="Replace the upgrade targets."),
    customer_cancel: str | None = typer.Option(None, "--customer-cancel", help="true or false."),
    servers: str | None = typer.Option(None, "--servers", help="The group of servers delivery picks from, in order: a,b ('' empties it)."),
    placement: str | None = typer.Option(None, "--placement", help="How the group fills: least-used (default) or fill-first."),
    overage: list[str] = OVERAGE_OPTION,
    customer_options: bool | None = CUSTOMER_OPTIONS_OPTION,
    customer_cycle: bool | None = CUSTOMER_CYCLE_OPTION,
    customer_delete: bool | None = CUSTOMER_DELETE_OPTION,
    customer_power: bool | None = CUSTOMER_POWER_OPTION,
    customer_suspend: bool | None = CUSTOMER_SUSPEND_OPTION,
) -> None:
    """Change a product."""
    cli = state(ctx)
    allow = parse_bool("--customer-cancel", customer_cancel) if customer_cancel is not None else None
    record = cli.db.transaction(
        lambda session: catalog.edit_product(
            session,
            cli.actor,
            product,
            name=name,
            prices=price,
            max_renewals=max_renewals,
            config=config,
            upgrade_to=upgrade_to,
            allow_customer_cancel=allow,
            servers=servers,
            placement=placement,
            overages=overage,
            customer_flags=_customer_flags(customer_options, customer_cycle, customer_delete, customer_power, customer_suspend),
        )
    )
    message(f"product {record.id} saved")


def _customer_flags(options: bool | None, cycle: bool | None, delete: bool | None, power: bool | None, suspend: bool | None) -> dict[str, bool | None]:
    """The --customer-* switches given (None: not given, left as it is)."""
    given = {"customer_options": options, "customer_cycle": cycle, "customer_delete": delete, "customer_power": power, "customer_suspend": suspend}
    return {flag: value for flag, value in given.items() if value is not None}


@products_app.command("options")
def products_options(
    ctx: typer.Context,
    product: str = typer.Argument(..., help="Id or name."),
    verb: str = typer.Argument("list", help="list, add or remove."),
    option_name: str | None = typer.Argument(None, metavar="NAME", help="The option to remove."),
    name: str | None = typer.Option(None, "--name", help="The option's name (chosen as NAME=VALUE)."),
    choice: list[str] = typer.Option([], "--choice", help="VALUE=PRICE, repeatable: a choice and its price per cycle."),
    minimum: str | None = typer.Option(None, "--min", help="Smallest quantity (with --max and --price)."),
    maximum: str | None = typer.Option(None, "--max", help="Largest quantity."),
    price: str | None = typer.Option(None, "--price", help="Price per cycle of one unit of a quantity."),
    resource: str | None = typer.Option(None, "--resource", help="The config key the module raises (e.g. memory); none: billing only."),
    unit: str = typer.Option("1", "--unit", help="What one unit of a quantity adds to --resource."),
    fmt: str = FORMAT_OPTION,
) -> None:
    """The product's option catalogue: list | add --name (--choice VALUE=PRICE ... | --min --max --price) [--resource] | remove NAME."""
    cli = state(ctx)
    action = verb.strip().lower()
    if action == "list":
        output = parse_format(fmt, (Format.TABLE, Format.JSON, Format.CSV))
        with read_session(ctx) as session:
            record = catalog.resolve_product(session, product)
            rows = [option_catalog.option_dict(option) for option in option_catalog.catalogue_of(session, record.id or 0)]
        emit(rows, ["id", "name", "accepts", "resource", "unit"], output)
        return
    if action == "add":
        output = parse_format(fmt, (Format.TABLE, Format.JSON, Format.IDS))
        option = cli.db.transaction(
            lambda session: option_catalog.option_dict(
                option_catalog.declare_option(
                    session, cli.actor, product, name=name or "", choices=choice, minimum=minimum, maximum=maximum, price=price, resource=resource, unit=unit
                )
            )
        )
        _print_added(output, option["id"], option)
        return
    if action == "remove":
        if not option_name:
            raise InvalidInput("NAME", "options remove needs the option's NAME")
        cli.db.transaction(lambda session: option_catalog.remove_option(session, cli.actor, product, option_name))
        message(f"product {product}: option {option_name!r} removed")
        return
    raise InvalidInput("verb", f"{verb!r} is not list, add or remove")


# ----------------------------------------------------------------------------- servers


@servers_app.command("list")
def servers_list(ctx: typer.Context, limit: str | None = LIMIT_OPTION, every: bool = ALL_OPTION, fmt: str = FORMAT_OPTION) -> None:
    """List servers (credentials are never shown) with how many services each holds."""
    output = parse_format(fmt)
    maximum = row_limit(limit, every, output)
    with read_session(ctx) as session:

        def fetch(after: int | None, size: int) -> list[dict]:  # type: ignore[type-arg]
            query = select(Server) if after is None else select(Server).where(Server.id > after)  # type: ignore[operator]
            servers = list(session.exec(query.order_by(Server.id).limit(size)).all())  # type: ignore[arg-type]
            if output is Format.IDS:
                return [{"id": server.id} for server in servers]
            on_page = [server.id for server in servers]
            counts = dict(
                session.exec(select(Service.server_id, func.count()).where(col(Service.server_id).in_(on_page)).group_by(col(Service.server_id))).all()
            )
            used = placement.used_counts(session, [server_id or 0 for server_id in on_page])
            return [views.server_dict(server, counts.get(server.id, 0), used.get(server.id or 0, 0)) for server in servers]

        emit_pages(fetch, lambda row: row["id"], lambda row: row, ["id", "name", "module", "url", "node", "enabled", "services", "used"], output, maximum)


@servers_app.command("add")
def servers_add(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name"),
    module: str = typer.Option(..., "--module", help="manual, pterodactyl or proxmox."),
    url: str = typer.Option(..., "--url", help="The panel's base URL."),
    credentials: str | None = typer.Option(None, "--credentials", help="API key or token (stored encrypted)."),
    node: str | None = typer.Option(None, "--node"),
    capacity: str | None = typer.Option(None, "--capacity", help="How many services it can hold (active, suspended, and being delivered)."),
    memory: str | None = typer.Option(
        None, "--memory", help="Most memory it may hand out, MiB (default: the panel's total; Proxmox and Pterodactyl report usage)."
    ),
    disk: str | None = typer.Option(None, "--disk", help="Most disk it may hand out, MiB (default: the panel's total; Pterodactyl reports usage)."),
    config: list[str] = typer.Option([], "--config", help="KEY=VALUE, repeatable."),
    tls_fingerprint: str | None = typer.Option(None, "--tls-fingerprint", help="Trust the panel's certificate with this SHA-256 fingerprint (AA:BB:...)."),
    ca_file: str | None = typer.Option(None, "--ca-file", help="Trust certificates signed by the CAs in this PEM file."),
    fmt: str = FORMAT_OPTION,
) -> None:
    """Add a server; prints its id."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON, Format.IDS))
    cli = state(ctx)
    server = cli.db.transaction(
        lambda session: catalog.add_server(
            session,
            cli.actor,
            name=name,
            module=module,
            url=url,
            credentials=credentials,
            node=node,
            capacity=capacity,
            config=config,
            tls_fingerprint=tls_fingerprint,
            ca_file=ca_file,
            memory=memory,
            disk=disk,
        )
    )
    _print_added(output, server.id, views.server_dict(server))


@servers_app.command("show")
def servers_show(ctx: typer.Context, server: str = typer.Argument(..., help="Id or name."), fmt: str = FORMAT_OPTION) -> None:
    """Show a server (without its credentials) and its recent changes."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    with read_session(ctx) as session:
        record = catalog.resolve_server(session, server)
        used = placement.used_counts(session, [record.id or 0])[record.id or 0]
        result = views.server_dict(record, catalog.count_services_on(session, record.id or 0), used)
        result["history"] = _history(session, "server", record.id)
    _print_shown(output, result)


@servers_app.command("edit")
def servers_edit(
    ctx: typer.Context,
    server: str = typer.Argument(..., help="Id or name."),
    name: str | None = typer.Option(None, "--name"),
    url: str | None = typer.Option(None, "--url"),
    credentials: str | None = typer.Option(None, "--credentials", help="New API key or token ('' removes it)."),
    node: str | None = typer.Option(None, "--node"),
    capacity: str | None = typer.Option(None, "--capacity", help="How many services it can hold ('none' = no limit)."),
    memory: str | None = typer.Option(
        None, "--memory", help="Most memory it may hand out, MiB (default: the panel's total; Proxmox and Pterodactyl report usage)."
    ),
    disk: str | None = typer.Option(None, "--disk", help="Most disk it may hand out, MiB (default: the panel's total; Pterodactyl reports usage)."),
    enabled: str | None = typer.Option(None, "--enabled", help="true or false."),
    config: list[str] = typer.Option([], "--config", help="KEY=VALUE to set (KEY= removes), repeatable."),
    tls_fingerprint: str | None = typer.Option(None, "--tls-fingerprint", help="Pin the panel's certificate SHA-256 fingerprint ('' removes the pin)."),
    ca_file: str | None = typer.Option(None, "--ca-file", help="PEM file of CAs to trust ('' removes it)."),
) -> None:
    """Change a server."""
    cli = state(ctx)
    is_enabled = parse_bool("--enabled", enabled) if enabled is not None else None
    record = cli.db.transaction(
        lambda session: catalog.edit_server(
            session,
            cli.actor,
            server,
            name=name,
            url=url,
            credentials=credentials,
            node=node,
            capacity=capacity,
            enabled=is_enabled,
            config=config,
            tls_fingerprint=tls_fingerprint,
            ca_file=ca_file,
            memory=memory,
            disk=disk,
        )
    )
    message(f"server {record.id} saved")


@servers_app.command("test")
def servers_test(ctx: typer.Context, server: str = typer.Argument(..., help="Id or name.")) -> None:
    """Check that svcconsole can log in to the server's panel."""
    cli = state(ctx)
    require(cli.actor, NON_TRANSITION_ROLES["read"], "reading")
    try:
        result = delivery.test_server(cli.db, server)
    except ModuleError as error:
        message(f"error: server {server}: {error.message}")
        raise typer.Exit(1) from None
    data(f"server {server}: ok" + (f": {result.message}" if result.message else ""))
