"""`invoices list` and `invoices show`: the read commands, which import only what they read.

The `invoices` group loads them from here and every other command from `cli.billing`.
"""

from __future__ import annotations

from typing import Any

import typer

from svcconsole.cli.base import lazy_app, new_app, read_session
from svcconsole.cli.output import ALL_OPTION, FORMAT_OPTION, LIMIT_OPTION, Format, data, emit, emit_pages, json_out, key_values, parse_format, row_limit
from svcconsole.core import invoice_lookups, lookups
from svcconsole.core.catalog import resolve_customer
from svcconsole.core.parse import parse_id
from svcconsole.store.models import Customer

invoices_group = lazy_app(
    "Invoices: list, show, create, add-line, pay, cancel.",
    {"list": "svcconsole.cli.invoices_read:read_app", "show": "svcconsole.cli.invoices_read:read_app"},
    fallback="svcconsole.cli.billing:invoices_app",
)
read_app = new_app("Invoices: the read commands.")

INVOICE_COLUMNS = ["id", "customer", "status", "total", "currency", "due_at", "created_at", "paid_at"]
LINE_COLUMNS = ["id", "kind", "service_id", "amount", "description", "applied_at", "error"]


def invoice_record(session: Any, invoice_id: int, *, with_lines: bool) -> dict[str, Any]:
    invoice = invoice_lookups.get_invoice(session, invoice_id)
    lines = invoice_lookups.lines_of(session, invoice_id)
    customer = session.get(Customer, invoice.customer_id)
    return invoice_lookups.invoice_dict(
        invoice, total=invoice_lookups.total_of(lines), customer_email=customer.email if customer else None, lines=lines if with_lines else None
    )


@read_app.command("list")
def invoices_list(
    ctx: typer.Context,
    customer: str | None = typer.Option(None, "--customer", help="Customer id or email."),
    status: str | None = typer.Option(None, "--status", help="draft, unpaid, paid or cancelled."),
    service: str | None = typer.Option(None, "--service", help="Only invoices with a line for this service."),
    limit: str | None = LIMIT_OPTION,
    every: bool = ALL_OPTION,
    fmt: str = FORMAT_OPTION,
) -> None:
    """Invoices, newest first, with their totals."""
    output = parse_format(fmt)
    maximum = row_limit(limit, every, output)
    service_id = parse_id("--service", service) if service else None
    with read_session(ctx) as session:
        customer_id = resolve_customer(session, customer, "--customer").id if customer else None
        wanted = status.strip().lower() if status else None
        emit_pages(
            lambda before, size: invoice_lookups.list_invoices(
                session, customer_id=customer_id, status=wanted, service_id=service_id, limit=size, before=before
            ),
            lambda item: item.invoice.id,
            lambda item: invoice_lookups.invoice_dict(item.invoice, total=item.total, customer_email=item.customer_email) | {"lines": item.line_count},
            [*INVOICE_COLUMNS, "lines"],
            output,
            maximum,
            tz=lookups.timezone_of(session),
        )


@read_app.command("show")
def invoices_show(
    ctx: typer.Context, invoice_id: str = typer.Argument(..., metavar="ID"), fmt: str = typer.Option("table", "--format", "-f", help="table or json.")
) -> None:
    """One invoice and its lines (with the error of a line that could not be applied)."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    identifier = parse_id("ID", invoice_id)
    with read_session(ctx) as session:
        record = invoice_record(session, identifier, with_lines=True)
        tz = lookups.timezone_of(session)
    if output is Format.JSON:
        json_out(record)
        return
    key_values({key: value for key, value in record.items() if key != "lines"}, tz=tz)
    data("\nlines:")
    emit(record["lines"], LINE_COLUMNS, Format.TABLE, tz=tz)
