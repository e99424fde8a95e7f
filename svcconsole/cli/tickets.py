"""`tickets`: the staff side of tickets about a service (list, show, open, reply, note, close)."""

from __future__ import annotations

import typer

from svcconsole.cli.base import new_app, state
from svcconsole.cli.output import ALL_OPTION, LIMIT_OPTION, Format, data, emit_pages, json_out, key_values, local_time, message, parse_format, row_limit
from svcconsole.core import lookups, tickets
from svcconsole.core.catalog import resolve_customer
from svcconsole.core.parse import inert, parse_id

tickets_app = new_app("Tickets about a service, between its customer and the staff: list, show, open, reply (or an internal note), close.")

LIST_COLUMNS = ["id", "status", "unread", "service_id", "customer", "subject", "updated_at"]
MESSAGE_OPTION = typer.Option(None, "--message", "-m", help="The text, stored as given.")
SHORT_FORMAT = typer.Option("table", "--format", "-f", help="table or json.")


@tickets_app.command("list")
def tickets_list(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="open, answered or closed."),
    service: str | None = typer.Option(None, "--service", help="Only the tickets about this service id."),
    customer: str | None = typer.Option(None, "--customer", help="Only this customer's tickets (id or email)."),
    limit: str | None = LIMIT_OPTION,
    every: bool = ALL_OPTION,
    fmt: str = typer.Option("table", "--format", "-f", help="table, json, csv or ids."),
) -> None:
    """Tickets, most recently updated first; UNREAD counts the customer's messages no one on the staff has read."""
    output = parse_format(fmt)
    maximum = row_limit(limit, every, output)
    wanted = tickets.parse_status("--status", status)
    service_id = parse_id("--service", service) if service else None
    cli = state(ctx)
    with cli.db.read() as session:
        customer_id = resolve_customer(session, customer, "--customer").id if customer else None
        emit_pages(
            lambda after, size: tickets.list_tickets(
                session, cli.actor, status=wanted, service_id=service_id, customer_id=customer_id, limit=size, after=after
            ),
            tickets.position,
            lambda line: line.as_dict(),
            LIST_COLUMNS,
            output,
            maximum,
            tz=lookups.timezone_of(session),
        )


@tickets_app.command("show")
def tickets_show(ctx: typer.Context, ticket_id: str = typer.Argument(..., metavar="ID"), fmt: str = SHORT_FORMAT) -> None:
    """A ticket and its messages, internal notes included (marked); reading it marks the customer's messages read."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    identifier = parse_id("ID", ticket_id)
    cli = state(ctx)
    shown, tz = cli.db.transaction(lambda session: (tickets.thread(session, cli.actor, identifier), lookups.timezone_of(session)))
    if output is Format.JSON:
        json_out(shown.ticket.as_dict() | {"earlier_messages": shown.earlier, "messages": [item.as_dict() for item in shown.messages]})
        return
    key_values(shown.ticket.as_dict(), ["id", "subject", "status", "service_id", "service", "customer", "created_at", "updated_at"], tz=tz)
    if shown.earlier:
        data(f"\n({shown.earlier} earlier messages not shown; --format json shows the same page)")
    for item in shown.messages:
        who = f"{item.author} ({'internal note' if item.internal else item.author_kind})"
        data(f"\n--- {inert(who)}, {local_time(item.at, tz)}")
        emit_body(item.body)


def emit_body(body: str) -> None:
    """A message body, line by line, with control characters shown as escapes (never acted on)."""
    for line in body.split("\n"):
        data(f"    {inert(line)}")


def _print(output: Format, result: tickets.TicketResult) -> None:
    if output is Format.JSON:
        json_out({"ticket_id": result.ticket_id, "service_id": result.service_id, "status": result.status, "message_id": result.message_id})
    else:
        message(result.text)


@tickets_app.command("open")
def tickets_open(
    ctx: typer.Context,
    service: str | None = typer.Option(None, "--service", help="The service the ticket is about (its customer is mailed)."),
    subject: str | None = typer.Option(None, "--subject", help="One line."),
    text: str | None = MESSAGE_OPTION,
    fmt: str = SHORT_FORMAT,
) -> None:
    """Open a ticket to a service's customer with a first message; it waits for the customer (answered)."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    service_id = parse_id("--service", service or "")
    cli = state(ctx)
    _print(output, cli.db.transaction(lambda session: tickets.open_ticket(session, cli.actor, service_id, subject, text)))


@tickets_app.command("reply")
def tickets_reply(
    ctx: typer.Context,
    ticket_id: str = typer.Argument(..., metavar="ID"),
    text: str | None = MESSAGE_OPTION,
    internal: bool = typer.Option(False, "--internal", help="An internal note: the customer never sees it and is not mailed."),
    fmt: str = SHORT_FORMAT,
) -> None:
    """Answer a ticket (the customer is mailed; a closed ticket reopens), or add an internal note with --internal."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    identifier = parse_id("ID", ticket_id)
    cli = state(ctx)
    _print(output, cli.db.transaction(lambda session: tickets.reply(session, cli.actor, identifier, text, internal=internal)))


@tickets_app.command("close")
def tickets_close(ctx: typer.Context, ticket_id: str = typer.Argument(..., metavar="ID"), fmt: str = SHORT_FORMAT) -> None:
    """Close an open or answered ticket (a later message reopens it)."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    identifier = parse_id("ID", ticket_id)
    cli = state(ctx)
    _print(output, cli.db.transaction(lambda session: tickets.close(session, cli.actor, identifier)))


__all__ = ["tickets_app"]
