"""`invoices`, `orders`, `services upgrade`, `automation run` and `notify`: the money side and the nightly run."""

from __future__ import annotations

from typing import Any

import typer

from svcconsole.cli.base import EXIT_ERROR, EXIT_PARTIAL, new_app, read_session, state
from svcconsole.cli.invoices_read import invoice_record
from svcconsole.cli.output import (
    ALL_OPTION,
    FORMAT_OPTION,
    LIMIT_OPTION,
    Format,
    data,
    emit,
    emit_pages,
    inert_lines,
    json_out,
    message,
    parse_format,
    row_limit,
)
from svcconsole.cli.service_actions import services_app
from svcconsole.core import (
    automation,
    automation_report,
    clock,
    i18n,
    invoice_lookups,
    jobs,
    lookups,
    mail_templates,
    mailer,
    notifications,
    orders,
    upgrades,
    views,
)
from svcconsole.core.errors import InvalidInput
from svcconsole.core.operators import require
from svcconsole.core.parse import inert, parse_date, parse_id, parse_int
from svcconsole.core.statuses import NON_TRANSITION_ROLES, automation_role
from svcconsole.store.models import Notification

invoices_app = new_app("Invoices: create, add-line, pay, cancel.")
orders_app = new_app("Orders: an invoice with order lines; paying it creates the services (pending) and queues their delivery.")
automation_app = new_app("The automation run (the cron job).")
notify_app = new_app("Notifications: the outbox, sent by SMTP.")

RENEW_OPTION = typer.Option(None, "--renew", help="Bill a renewal of this service (repeatable).")
CYCLES_OPTION = typer.Option("1", "--cycles", help="Cycles per renewal line.")
ORDER_OPTION = typer.Option(None, "--order", help="Order this product, id or name (repeatable); paying creates the service.")
ORDER_CYCLE_OPTION = typer.Option(None, "--cycle", help="Billing cycle of the ordered products (default: monthly, or the first offered).")
ORDER_NAME_OPTION = typer.Option(None, "--name", help="Name of the ordered services (default: the product's name).")
ORDER_SERVER_OPTION = typer.Option(None, "--server", help="Server of the ordered services.")
ORDER_DOMAIN_OPTION = typer.Option(None, "--domain", help="Domain of the ordered services, a host name (IDN allowed).")
OPTION_SERVICE_OPTION = typer.Option(None, "--option", help="Bill an option (an extra) of this service; needs --description and --amount.")
DESCRIPTION_OPTION = typer.Option(None, "--description", help="What the option line bills.")
AMOUNT_OPTION = typer.Option(None, "--amount", help="Amount of the option line.")
DUE_OPTION = typer.Option(None, "--due", help="Due date, YYYY-MM-DD or ISO 8601 (default: the earliest renewed expiry, else now).")


def _money(amount: Any, currency: str) -> str:
    return f"{invoice_lookups.cents(amount)} {currency}"


def _line_request(
    renew: list[str] | None,
    cycles: str,
    order: list[str] | None,
    cycle: str | None,
    name: str | None,
    server: str | None,
    option: str | None,
    description: str | None,
    amount: str | None,
) -> orders.LineRequest:
    return orders.LineRequest(
        renew=[parse_id("--renew", item) for item in renew or []],
        cycles=cycles,
        orders=[orders.OrderItem(product=item, cycle=cycle, name=name, server=server) for item in order or []],
        option_service=parse_id("--option", option) if option else None,
        description=description,
        amount=amount,
    )


def _print_invoice_id(output: Format, record: dict[str, Any]) -> None:
    if output is Format.JSON:
        json_out(record)
    else:
        data(str(record["id"]))


# ----------------------------------------------------------------------------- invoices


@invoices_app.command("create")
def invoices_create(
    ctx: typer.Context,
    customer: str = typer.Option(..., "--customer", help="Customer id or email."),
    renew: list[str] | None = RENEW_OPTION,
    cycles: str = CYCLES_OPTION,
    order: list[str] | None = ORDER_OPTION,
    cycle: str | None = ORDER_CYCLE_OPTION,
    name: str | None = ORDER_NAME_OPTION,
    server: str | None = ORDER_SERVER_OPTION,
    option: str | None = OPTION_SERVICE_OPTION,
    description: str | None = DESCRIPTION_OPTION,
    amount: str | None = AMOUNT_OPTION,
    due: str | None = DUE_OPTION,
    fmt: str = typer.Option("table", "--format", "-f", help="table (the id), json or ids."),
) -> None:
    """Create an unpaid invoice with renewal, order or option lines. Prints the new id."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON, Format.IDS))
    cli = state(ctx)
    request = _line_request(renew, cycles, order, cycle, name, server, option, description, amount)

    def work(session: Any) -> dict[str, Any]:
        invoice = orders.create_invoice(session, cli.actor, customer, request, due=due)
        return invoice_record(session, invoice.id or 0, with_lines=True)

    record = cli.db.transaction(work)
    message(f"invoice {record['id']}: {len(record['lines'])} line{'s' if len(record['lines']) != 1 else ''}, {record['total']} {record['currency']}, unpaid")
    _print_invoice_id(output, record)


@invoices_app.command("add-line")
def invoices_add_line(
    ctx: typer.Context,
    invoice_id: str = typer.Argument(..., metavar="ID"),
    renew: list[str] | None = RENEW_OPTION,
    cycles: str = CYCLES_OPTION,
    order: list[str] | None = ORDER_OPTION,
    cycle: str | None = ORDER_CYCLE_OPTION,
    name: str | None = ORDER_NAME_OPTION,
    server: str | None = ORDER_SERVER_OPTION,
    option: str | None = OPTION_SERVICE_OPTION,
    description: str | None = DESCRIPTION_OPTION,
    amount: str | None = AMOUNT_OPTION,
) -> None:
    """Add lines to an unpaid invoice (renewals must be of its customer, in its currency). Prints the line ids."""
    cli = state(ctx)
    identifier = parse_id("ID", invoice_id)
    request = _line_request(renew, cycles, order, cycle, name, server, option, description, amount)

    def work(session: Any) -> tuple[list[int], dict[str, Any]]:
        lines = orders.add_lines(session, cli.actor, identifier, request)
        return [line.id or 0 for line in lines], invoice_record(session, identifier, with_lines=False)

    added, record = cli.db.transaction(work)
    for line_id in added:
        data(str(line_id))
    message(f"invoice {identifier}: {len(added)} line{'s' if len(added) != 1 else ''} added; total {record['total']} {record['currency']}")


@invoices_app.command("pay")
def invoices_pay(
    ctx: typer.Context,
    invoice_id: str = typer.Argument(..., metavar="ID"),
    reference: str | None = typer.Option(None, "--reference", help="The payment's reference (kept in the activity log)."),
) -> None:
    """Record the payment and apply each line once; paying again applies only what could not be applied before."""
    cli = state(ctx)
    identifier = parse_id("ID", invoice_id)
    result = cli.db.transaction(lambda session: orders.pay_invoice(session, cli.actor, identifier, reference=reference))
    if result.already_paid and not result.outcomes:
        message(f"invoice {identifier} was paid already; every line is applied: nothing done")
        return
    for outcome in result.outcomes:
        state_text = "applied" if outcome.applied else "NOT applied"
        target = f"service {outcome.service_id}" if outcome.service_id else "-"
        data(f"line {outcome.line_id:>6}  {outcome.kind:<8}  {target:<14}  {state_text}: {inert(outcome.message)}")
    for job_outcome in jobs.run_jobs(cli.db, result.job_ids):
        data(f"job {job_outcome.job_id:>7}  service {job_outcome.service_id}  {job_outcome.status}: {inert(job_outcome.message)}")
    verb = "was paid already" if result.already_paid else "paid"
    applied = sum(1 for outcome in result.outcomes if outcome.applied)
    message(
        f"invoice {identifier} {verb} ({_money(result.total, result.currency)}): {applied} line{'s' if applied != 1 else ''} applied, {len(result.failed)} not applied"
    )
    if result.failed:
        message(f"lines not applied keep their error (invoices show {identifier}); fix the cause and pay again to apply them")
        raise typer.Exit(EXIT_PARTIAL)


@invoices_app.command("cancel")
def invoices_cancel(
    ctx: typer.Context,
    invoice_id: str = typer.Argument(..., metavar="ID"),
    reason: str | None = typer.Option(None, "--reason", help="Why (kept in the services' activity log)."),
) -> None:
    """Cancel an unpaid invoice: its lines never apply; its upgrades are cancelled."""
    cli = state(ctx)
    identifier = parse_id("ID", invoice_id)
    cli.db.transaction(lambda session: orders.cancel_invoice(session, cli.actor, identifier, reason=reason))
    message(f"invoice {identifier} cancelled")


# ----------------------------------------------------------------------------- orders


@orders_app.command("create")
def orders_create(
    ctx: typer.Context,
    customer: str = typer.Option(..., "--customer", help="Customer id or email."),
    product: list[str] = typer.Option(..., "--product", help="Product id or name (repeatable: one service each)."),
    cycle: str | None = ORDER_CYCLE_OPTION,
    name: str | None = ORDER_NAME_OPTION,
    server: str | None = ORDER_SERVER_OPTION,
    domain: str | None = ORDER_DOMAIN_OPTION,
    option: list[str] = typer.Option([], "--option", help="NAME=VALUE from the product's option catalogue, repeatable (products options PRODUCT)."),
    due: str | None = typer.Option(None, "--due", help="Due date (default: now)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table (the invoice id), json or ids."),
) -> None:
    """Create an order: an unpaid invoice with one order line per product (price + setup fee). Prints the invoice id.

    Paying it (`invoices pay ID`) creates each service `pending` and queues its delivery
    (a manual product waits for an admin, who is mailed).
    """
    output = parse_format(fmt, (Format.TABLE, Format.JSON, Format.IDS))
    cli = state(ctx)
    items = [orders.OrderItem(product=item, cycle=cycle, name=name, server=server, domain=domain, options=option) for item in product]

    def work(session: Any) -> dict[str, Any]:
        invoice = orders.create_order(session, cli.actor, customer, items, due=due)
        return invoice_record(session, invoice.id or 0, with_lines=True)

    record = cli.db.transaction(work)
    message(
        f"order: invoice {record['id']} for {record['total']} {record['currency']}, unpaid; paying it creates {len(items)} service{'s' if len(items) != 1 else ''}"
    )
    _print_invoice_id(output, record)


# ----------------------------------------------------------------------------- services upgrade


@services_app.command("upgrade")
def services_upgrade(
    ctx: typer.Context,
    service_id: str = typer.Argument(..., metavar="ID"),
    to: str | None = typer.Option(None, "--to", help="Target product, id or name (one of the product's upgrade targets)."),
    billing_mode: str | None = typer.Option(None, "--billing", help="invoice (the prorated difference, applied when paid) or none (at once)."),
    list_only: bool = typer.Option(False, "--list", help="Show the targets with their prorated amounts, and the upgrades in progress and done."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """Move a service to another product: `--billing none` at once, `--billing invoice` once the prorated invoice is paid.

    The invoice amount is (new_price - old_price) * (whole cycles left + days left of the current
    cycle / its length), rounded to cents: for a service not renewed ahead, (new - old) *
    remaining_days / cycle_days. `--list` shows the cycles left and the amount for each target.
    """
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    cli = state(ctx)
    identifier = parse_id("ID", service_id)
    if list_only or to is None:
        if to is None and not list_only:
            raise InvalidInput("--to", "give the target product with --to PRODUCT --billing invoice|none, or --list")
        _print_upgrades(ctx, identifier, output)
        return
    if billing_mode is None:
        raise InvalidInput("--billing", "choose invoice (the customer pays the prorated difference) or none")
    upgrades.parse_billing(billing_mode)
    started = cli.db.transaction(lambda session: orders.start_upgrade(session, cli.actor, identifier, to, billing_mode))
    if started.invoice is not None:
        message(
            f"service {identifier}: upgrade {started.upgrade.id} awaits payment of invoice {started.invoice.id} ({_money(started.upgrade.amount, started.invoice.currency)}); it applies when the invoice is paid"
        )
        data(str(started.invoice.id))
        return
    assert started.outcome is not None
    message(f"service {identifier}: upgrade {started.upgrade.id}: {started.outcome.message}")
    if started.job_id is not None:
        for outcome in jobs.run_jobs(cli.db, [started.job_id]):
            message(f"job {outcome.job_id}: {outcome.status}: {outcome.message}")
            if outcome.status != "succeeded":
                raise typer.Exit(EXIT_PARTIAL)


def _print_upgrades(ctx: typer.Context, service_id: int, output: Format) -> None:
    with read_session(ctx) as session:
        quotes = upgrades.quote_upgrades(session, service_id)
        started = upgrades.upgrades_of(session, service_id)
        names = upgrades.product_names(session, {item.to_product_id for item in started} | {item.from_product_id for item in started if item.from_product_id})
        tz = lookups.timezone_of(session)
    targets = [
        {
            "product_id": item.product_id,
            "product": item.product,
            "old_price": f"{item.old_price:.2f}",
            "new_price": f"{item.new_price:.2f}" if item.new_price is not None else None,
            "currency": item.currency,
            "remaining": item.remaining.text,
            "remaining_days": item.remaining_days,
            "whole_cycles": item.remaining.whole_cycles,
            "current_days": item.remaining.current_days,
            "cycle_days": item.cycle_days,
            "cycles": f"{item.remaining.cycles:.4f}",
            "amount": f"{item.amount:.2f}",
            "available": item.available,
            "why_not": item.why_not,
        }
        for item in quotes
    ]
    history = [upgrades.upgrade_dict(item, names) for item in started]
    if output is Format.JSON:
        json_out({"service_id": service_id, "targets": targets, "upgrades": history})
        return
    data("targets:")
    emit(targets, ["product_id", "product", "old_price", "new_price", "remaining", "cycles", "amount", "currency", "why_not"], Format.TABLE)
    data("\nupgrades:")
    emit(history, ["id", "from_product", "to_product", "mode", "amount", "invoice_id", "status", "created_at", "completed_at"], Format.TABLE, tz=tz)
    in_progress = sum(1 for item in started if item.status in invoice_lookups.OPEN_UPGRADE_STATUSES)
    message(
        f"service {service_id}: {len(targets)} target{'s' if len(targets) != 1 else ''}; {in_progress} upgrade{'s' if in_progress != 1 else ''} in progress"
    )


# ----------------------------------------------------------------------------- automation


@automation_app.command("run")
def automation_run(
    ctx: typer.Context,
    at: str | None = typer.Option(
        None,
        "--at",
        help="Run steps 0-6 as if the clock were WHEN (YYYY-MM-DD or ISO 8601, in the configured time zone); step 7 (jobs and mail) runs on the real clock.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what each step would do, service by service, with the settings in force; change nothing."),
    fmt: str = typer.Option("table", "--format", "-f", help="table (a line per service, summaries on stderr) or json."),
) -> None:
    """The cron job: renewal invoices, expiry notices, overdue suspension, expiry, end-of-cycle
    cancellation, hiding old services, then module jobs and mail.

    Step 0 first applies lines of paid invoices that could not be applied when paid (a renewal
    paid while a module job ran); steps 3 and 4 leave a service alone while such a renewal
    waits, and steps 3-6 leave out a service whose job for the same action failed (retry or
    resolve it). Only recurring services are invoiced, warned, suspended as overdue and
    expired: a onetime or free service is never renewed, so its expiry date is left alone
    (cancel it at the end of the cycle to have step 5 end it then). With --at, steps 0-6 act
    at WHEN and step 7 runs on the real clock: the jobs this run queued and those due now,
    and the outbox, so leases and mail dates stay real.

    Safe to run twice at once (the second run finds the lock held, says so and does nothing)
    and to re-run (nothing is done twice). Exit 3 when a module job, a mail or a service's
    change failed.
    """
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    cli = state(ctx)
    require(cli.actor, automation_role(dry_run), "a dry run of the automation" if dry_run else "running the automation")
    with cli.db.read() as session:
        tz = lookups.timezone_of(session)
    moment = parse_date("--at", at, tz) if at is not None else None

    def show(item: automation_report.StepItem) -> None:
        if output is Format.TABLE:
            target = f"service {item.service_id}" if item.service_id is not None else "-"
            data(f"step {item.step}  {target:<16}  {item.outcome:<12}  {inert(item.message)}")

    if output is Format.TABLE:
        message(("dry run: " if dry_run else "") + f"at {(moment or clock.now()).astimezone(tz).isoformat(timespec='seconds')}")
    report = automation.run(cli.db, cli.actor, at=moment, dry_run=dry_run, progress=show)
    if output is Format.JSON:
        json_out(_report_dict(report))
    if report.locked_out:
        message(f"automation: another run holds the lock ({report.locked_by}); nothing done")
        return
    if output is Format.TABLE:
        message(report.settings_line())
        for step in report.steps:
            message(step.summary(dry_run))
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def _report_dict(report: automation_report.AutomationReport) -> dict[str, Any]:
    return {
        "at": views.plain(report.at),
        "dry_run": report.dry_run,
        "locked_by": report.locked_by,
        "settings": report.settings,
        "steps": [
            {
                "step": step.number,
                "title": step.title,
                "rule": step.rule,
                "summary": step.summary(report.dry_run),
                "items": [{"service_id": item.service_id, "outcome": item.outcome, "message": item.message} for item in step.items],
            }
            for step in report.steps
        ],
    }


# ----------------------------------------------------------------------------- notify


def _notification_dict(row: Notification) -> dict[str, Any]:
    return {
        key: views.plain(getattr(row, key))
        for key in ("id", "service_id", "customer_id", "to_address", "template", "subject", "status", "attempts", "last_error", "created_at", "sent_at")
    }


@notify_app.command("list")
def notify_list(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="queued, sent, failed or dropped."),
    limit: str | None = LIMIT_OPTION,
    every: bool = ALL_OPTION,
    fmt: str = FORMAT_OPTION,
) -> None:
    """The outbox, newest first (queued mails show their attempts and last error; a dropped mail, why it was never sent)."""
    output = parse_format(fmt)
    maximum = row_limit(limit, every, output)
    if status is not None and status not in notifications.STATUSES:
        raise InvalidInput("--status", f"{status!r} is not a notification status ({', '.join(notifications.STATUSES)})")
    with read_session(ctx) as session:
        emit_pages(
            lambda before, size: mailer.list_notifications(session, status=status, limit=size, before=before),
            lambda row: row.id,
            _notification_dict,
            ["id", "service_id", "to_address", "template", "status", "attempts", "created_at", "sent_at", "subject", "last_error"],
            output,
            maximum,
            tz=lookups.timezone_of(session),
        )


@notify_app.command("preview")
def notify_preview(
    ctx: typer.Context,
    template: str = typer.Argument(
        ..., metavar="TEMPLATE", help="A mail template: delivered, suspended, renewal_invoice, expiry_notice, ...", autocompletion=mail_templates.template_names
    ),
    service: str = typer.Option(..., "--service", help="The service the mail is about."),
    locale: str | None = typer.Option(None, "--locale", help="en or fr (default: the customer's language; admin mails are English)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table (the subject, a blank line, the body) or json."),
) -> None:
    """What the customer would receive for TEMPLATE about a service, rendered now (your override in the config
    directory if there is one); nothing is queued. A broken override is named on stderr (file:line) and the built-in is shown."""
    output = parse_format(fmt, (Format.TABLE, Format.JSON))
    chosen = i18n.parse_locale("--locale", locale) if locale is not None else None
    with read_session(ctx) as session:
        mail = notifications.preview(session, template, lookups.get_service(session, parse_id("--service", service)), chosen)
    if mail.problem:
        message(f"template error: {mail.problem}; the built-in template is used")
    if output is Format.JSON:
        json_out({"template": template, "subject": mail.subject, "body": mail.body, "source": mail.source})
        return
    data(inert_lines(f"Subject: {mail.subject}\n\n{mail.body.rstrip()}"))


@notify_app.command("send")
def notify_send(ctx: typer.Context, limit: str | None = typer.Option(None, "--limit", help="Send at most N mails.")) -> None:
    """Send the queued notifications by SMTP; a mail that fails stays queued with its error (exit 3)."""
    cli = state(ctx)
    require(cli.actor, NON_TRANSITION_ROLES["notify"], "sending notifications")
    report = mailer.send_queued(cli.db, limit=parse_int("--limit", limit, minimum=1) if limit else None)
    for item in report.items:
        data(f"{item.notification_id:>8}  {item.outcome:<7}  {inert(item.message)}")
    message(report.summary())
    if report.unconfigured:
        message("set it with `svcconsole settings set smtp_host HOST` (and smtp_port, smtp_from, smtp_user, smtp_password, smtp_starttls)")
        raise typer.Exit(EXIT_ERROR)
    if report.misconfigured:
        raise typer.Exit(EXIT_ERROR)
    if any(item.outcome != "ok" for item in report.items):
        raise typer.Exit(EXIT_PARTIAL)
