"""`services create`, `import`, `edit`, `usage`, `meta` and `options`; the read commands are in `cli.services_read`, the actions in `cli.service_actions`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Optional

import typer

from svcconsole.cli.base import EXIT_PARTIAL, new_app, read_session, state
from svcconsole.cli.output import (
    FORMAT_OPTION,
    Format,
    cell,
    data,
    emit,
    json_out,
    key_values,
    message,
    parse_format,
)
from svcconsole.core import actions, bulk, delivery, jobs, lookups, records, usage, views
from svcconsole.core.errors import InvalidInput, SvcError
from svcconsole.core.operators import require
from svcconsole.core.parse import parse_id, parse_int
from svcconsole.core.statuses import NON_TRANSITION_ROLES

services_app = new_app("Services: create, import, edit, usage, metadata, options, and every lifecycle action.")


USAGE_COLUMNS = ["metric", "used", "included", "price", "over", "cost", "source"]


@services_app.command("usage")
def services_usage(
    ctx: typer.Context,
    service_id: str = typer.Argument(..., metavar="ID"),
    action: str | None = typer.Argument(None, metavar="[record METRIC AMOUNT]", help="record METRIC AMOUNT: what a manual service used this period."),
    metric: str | None = typer.Argument(None, hidden=True),
    amount: str | None = typer.Argument(None, hidden=True),
    fmt: str = FORMAT_OPTION,
) -> None:
    """The current billing period's usage, included amounts, overage and cost; or `record METRIC AMOUNT` for a manual service."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    identifier = parse_id("id", service_id)
    cli = state(ctx)
    if action is not None:
        if action != "record":
            raise InvalidInput("usage", f"{action!r} is not an action (use: services usage ID, or services usage ID record METRIC AMOUNT)")
        if metric is None or amount is None:
            raise InvalidInput("record", "needs METRIC and AMOUNT (such as: services usage 12 record traffic_gb 130)")
        report = cli.db.transaction(lambda session: usage.record(session, cli.actor, identifier, metric, amount))
    else:
        if metric is not None:
            raise InvalidInput("usage", "only `record` takes more arguments (services usage ID record METRIC AMOUNT)")
        with read_session(ctx) as session:
            report = usage.current_report(session, lookups.get_service(session, identifier))
            tz = lookups.timezone_of(session)
    if output is Format.JSON:
        json_out({"service_id": identifier, **report.as_json()})
        return
    if action is not None:
        message(f"service {identifier}: {metric} recorded")
        with read_session(ctx) as session:
            tz = lookups.timezone_of(session)
    period = f"{lookups.day(report.period_start, tz)} to {lookups.day(report.period_end, tz)}" if report.period_start else "none (no billing cycle)"
    key_values({"service": identifier, "period": period, "overage": f"{report.cost:.2f} {report.currency}"})
    rows = [{key: ("-" if value is None else value) for key, value in line.items()} for line in report.as_json()["metrics"]]
    if rows:
        data("")
        emit(rows, USAGE_COLUMNS, Format.TABLE)
    else:
        data("\nits product meters nothing (products edit --overage METRIC=INCLUDED:PRICE)")


# ----------------------------------------------------------------------------- create, import, edit


DRAFT_OPTIONS: dict[str, tuple[Any, Any]] = {
    "customer": (str, typer.Option(..., "--customer", help="Customer id or email.")),
    "name": (str, typer.Option(..., "--name", help="Service name.")),
    "product": (Optional[str], typer.Option(None, "--product", help="Product id or name (none = a custom service).")),
    "type": (Optional[str], typer.Option(None, "--type", help="Module (required without --product).")),
    "cycle": (Optional[str], typer.Option(None, "--cycle", help="Billing cycle (default: monthly, or the product's first).")),
    "price": (Optional[str], typer.Option(None, "--price", help="Recurring price (default: the product's price for the cycle).")),
    "initial_price": (Optional[str], typer.Option(None, "--initial-price", help="First payment (default: the price).")),
    "server": (Optional[str], typer.Option(None, "--server", help="Server id or name.")),
    "expires": (Optional[str], typer.Option(None, "--expires", help="YYYY-MM-DD or ISO 8601 (default: one cycle from now).")),
    "description": (Optional[str], typer.Option(None, "--description", help="Shown to the customer.")),
    "domain": (Optional[str], typer.Option(None, "--domain", help="The service's domain, a host name (IDN allowed: bücher.example).")),
    "notes": (Optional[str], typer.Option(None, "--notes", help="Admin-only notes.")),
    "max_renewals": (Optional[str], typer.Option(None, "--max-renewals", help="Renewal limit (empty = unlimited).")),
}
"""The options of a new service, the same for `services create` and `services import`."""


def with_draft_options(**extra: tuple[Any, Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the options of a new service (`extra` ones, also fields of the draft, after
    --name), where its `draft` parameter stands; it receives them as one `ServiceDraft`."""
    customer, name, *rest = DRAFT_OPTIONS.items()
    options = dict([customer, name, *extra.items(), *rest])

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command)
        parameters: list[inspect.Parameter] = []
        for parameter in signature.parameters.values():
            if parameter.name == "draft":
                parameters += [
                    inspect.Parameter(option_name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)
                    for option_name, (annotation, option) in options.items()
                ]
            else:
                parameters.append(parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY) if parameter.name != "ctx" else parameter)

        @functools.wraps(command)
        def with_draft(*args: Any, **kwargs: Any) -> Any:
            draft = records.ServiceDraft(**{option_name: kwargs.pop(option_name) for option_name in options})
            return command(*args, draft=draft, **kwargs)

        with_draft.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]  # functions take a __signature__ at runtime; typeshed does not declare it
        return with_draft

    return decorate


def _print_created(output: Format, record: dict[str, Any]) -> None:
    if output is Format.JSON:
        json_out(record)
    else:
        data(str(record["id"]))


@services_app.command("create")
@with_draft_options()
def services_create(
    ctx: typer.Context,
    draft: records.ServiceDraft,
    deliver: bool = typer.Option(False, "--deliver", help="Run the module's create now (manual: mark active)."),
    fmt: str = FORMAT_OPTION,
) -> None:
    """Create a service (pending; no invoice). Prints the new id."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON, Format.IDS))
    cli = state(ctx)
    service = cli.db.transaction(lambda session: records.create_service(session, cli.actor, draft))
    if deliver:
        try:
            report = bulk.run(cli.db, cli.actor, "deliver", {}, [service.id or 0], selection={"ids": [service.id]})
        except SvcError as error:
            message(f"service {service.id} created but not delivered: {error.message}")
        else:
            for item in report.items:
                if item.outcome != "ok":
                    message(f"service {item.service_id} created but not delivered: {item.message}")
    with cli.db.read() as session:
        record = views.service_dict(lookups.get_service(session, service.id or 0))
    _print_created(output, record)
    if deliver and record["status"] != "active":
        raise typer.Exit(3)


@services_app.command("import")
@with_draft_options(external=(str, typer.Option(..., "--external", help="The panel's id of the existing resource.")))
def services_import(ctx: typer.Context, draft: records.ServiceDraft, fmt: str = FORMAT_OPTION) -> None:
    """Import a resource that already exists on a panel as an active service (no module create, no invoice)."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON, Format.IDS))
    cli = state(ctx)
    require(cli.actor, NON_TRANSITION_ROLES["import"], "importing a service")
    found = delivery.importable_external(cli.db, draft.server, draft.external or "")
    service = cli.db.transaction(lambda session: records.import_service(session, cli.actor, draft, external=found))
    _print_created(output, views.service_dict(service))


@services_app.command("edit")
def services_edit(
    ctx: typer.Context,
    service_id: str = typer.Argument(..., metavar="ID"),
    name: str | None = typer.Option(None, "--name"),
    expires: str | None = typer.Option(None, "--expires", help="YYYY-MM-DD or ISO 8601."),
    price: str | None = typer.Option(None, "--price"),
    initial_price: str | None = typer.Option(None, "--initial-price"),
    cycle: str | None = typer.Option(None, "--cycle"),
    server: str | None = typer.Option(None, "--server", help="Server id or name ('none' clears it)."),
    description: str | None = typer.Option(None, "--description"),
    domain: str | None = typer.Option(None, "--domain", help="A host name ('none' clears it)."),
    notes: str | None = typer.Option(None, "--notes"),
    max_renewals: str | None = typer.Option(None, "--max-renewals", help="A number, or 'none' for unlimited."),
    type: str | None = typer.Option(None, "--type"),
    auto_renew: str | None = typer.Option(None, "--auto-renew", help="true or false."),
    currency: str | None = typer.Option(None, "--currency"),
    status: str | None = typer.Option(None, "--status", help="Override the status (admin; needs --reason). Prefer the actions."),
    reason: str | None = typer.Option(None, "--reason"),
    expected_version: str | None = typer.Option(None, "--expected-version", help="Refuse if the service changed since this version."),
) -> None:
    """Change fields of a service."""
    cli = state(ctx)
    identifier = parse_id("id", service_id)
    fields = {
        "name": name,
        "expires_at": expires,
        "price": price,
        "initial_price": initial_price,
        "billing_cycle": cycle,
        "server": server,
        "description": description,
        "domain": domain,
        "notes": notes,
        "max_renewals": max_renewals,
        "type": type,
        "auto_renew": auto_renew,
        "currency": currency,
        "status": status,
    }
    changes: dict[str, str | None] = {key: value for key, value in fields.items() if value is not None}
    if not changes:
        raise InvalidInput("fields", "nothing to change (give at least one option such as --name)")
    version = parse_int("--expected-version", expected_version, minimum=1) if expected_version else None
    changed = cli.db.transaction(lambda session: records.edit_service(session, cli.actor, identifier, changes, expected_version=version, reason=reason))
    if not changed:
        message(f"service {identifier}: nothing changed")
        return
    for key, (old, new) in changed.items():
        message(f"service {identifier}: {key}: {cell(views.plain(old))} -> {cell(views.plain(new))}")


# ----------------------------------------------------------------------------- metadata and options


@services_app.command("meta", context_settings={"ignore_unknown_options": True})
def services_meta(
    ctx: typer.Context,
    service_id: str = typer.Argument(..., metavar="ID"),
    verb: str = typer.Argument("list", help="list, get, set or unset."),
    key: str | None = typer.Argument(None),
    value: str | None = typer.Argument(None),
    fmt: str = FORMAT_OPTION,
) -> None:
    """Service metadata: list | get KEY | set KEY VALUE | unset KEY (known keys: renewal limits, disable_notify_expiration)."""
    cli = state(ctx)
    identifier = parse_id("id", service_id)
    action = verb.strip().lower()
    if action == "list":
        output = parse_format(fmt, (Format.TABLE, Format.JSON))
        with read_session(ctx) as session:
            items = {row.key: row.value for row in records.meta_items(session, identifier)}
        if output is Format.JSON:
            json_out(items)
        else:
            emit([{"key": item_key, "value": item_value} for item_key, item_value in items.items()], ["key", "value"], Format.TABLE)
        return
    if not key:
        raise InvalidInput("key", f"meta {action} needs a KEY")
    if action == "get":
        with read_session(ctx) as session:
            lookups.get_service(session, identifier)
            found = lookups.meta_value(session, identifier, key)
        if found is None:
            message(f"error: metadata: service {identifier} has no key {key!r}")
            raise typer.Exit(1)
        data(found)
    elif action == "set":
        if value is None:
            raise InvalidInput("value", "meta set needs a VALUE")
        row = cli.db.transaction(lambda session: records.meta_set(session, cli.actor, identifier, key, value))
        message(f"service {identifier}: {row.key} = {row.value}")
    elif action == "unset":
        cli.db.transaction(lambda session: records.meta_unset(session, cli.actor, identifier, key))
        message(f"service {identifier}: {key} removed")
    else:
        raise InvalidInput("verb", f"{verb!r} is not list, get, set or unset")


@services_app.command("options")
def services_options(
    ctx: typer.Context,
    service_id: str = typer.Argument(..., metavar="ID"),
    verb: str = typer.Argument("list", help="list, add, edit or remove."),
    option_id: str | None = typer.Argument(None, metavar="OPTION_ID"),
    name: str | None = typer.Option(None, "--name"),
    value: str | None = typer.Option(None, "--value"),
    quantity: str | None = typer.Option(None, "--quantity"),
    price: str | None = typer.Option(None, "--price"),
    expires: str | None = typer.Option(None, "--expires", help="Default: the service's expiry."),
    fmt: str = FORMAT_OPTION,
) -> None:
    """Service options (billed with the service): list | add --name --price | edit OPTION_ID ... | remove OPTION_ID."""
    cli = state(ctx)
    identifier = parse_id("id", service_id)
    action = verb.strip().lower()
    if action == "list":
        output = parse_format(fmt, (Format.TABLE, Format.JSON, Format.CSV))
        with read_session(ctx) as session:
            lookups.get_service(session, identifier)
            rows = [views.option_dict(option) for option in records.options_of(session, identifier)]
        emit(rows, ["id", "name", "value", "quantity", "price", "expires_at"], output)
        return
    if action == "add":
        if not name:
            raise InvalidInput("--name", "options add needs --name")
        option = cli.db.transaction(
            lambda session: records.option_add(
                session, cli.actor, identifier, name=name, value=value, quantity=quantity or 1, price=price or "0", expires=expires
            )
        )
        data(str(option.id))
        return
    if not option_id:
        raise InvalidInput("OPTION_ID", f"options {action} needs an OPTION_ID")
    option_number = parse_id("OPTION_ID", option_id)
    if action == "edit":
        cli.db.transaction(
            lambda session: records.option_edit(
                session, cli.actor, identifier, option_number, name=name, value=value, quantity=quantity, price=price, expires=expires
            )
        )
        message(f"service {identifier}: option {option_number} saved")
    elif action == "remove":
        outcome = cli.db.transaction(lambda session: actions.remove_option(session, cli.actor, identifier, option_number))
        message(f"service {identifier}: {outcome.message}")
        for ran in jobs.run_jobs(cli.db, [outcome.job_id] if outcome.job_id is not None else []):
            message(f"service {identifier}: panel {ran.status}: {ran.message}")
            if ran.status != "succeeded":
                raise typer.Exit(EXIT_PARTIAL)
    else:
        raise InvalidInput("verb", f"{verb!r} is not list, add, edit or remove")
