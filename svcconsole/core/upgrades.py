"""Upgrades: what is left of the paid time, the prorated quote, and the upgrade action (SPEC.md section 4)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from svcconsole.core import activity, clock, cycles, option_catalog
from svcconsole.core.action_base import ActionContext, ActionImpl, store_external
from svcconsole.core.catalog import product_price, resolve_product
from svcconsole.core.errors import InvalidInput, NotFound
from svcconsole.core.invoice_lookups import OPEN_UPGRADE_STATUSES, ZERO, UpgradeBilling, UpgradeStatus, cents
from svcconsole.core.lookups import get_service, iso, module_supports, refuse, service_product_ref, timezone_of
from svcconsole.store.models import (
    Job,
    Product,
    Service,
    Upgrade,
)


def upgrade_dict(upgrade: Upgrade, products: dict[int, str] | None = None) -> dict[str, Any]:
    """An upgrade as a JSON-ready dict, with product names when `products` maps their ids."""
    names = products or {}
    return {
        "id": upgrade.id,
        "service_id": upgrade.service_id,
        "from_product_id": upgrade.from_product_id,
        "from_product": names.get(upgrade.from_product_id or 0),
        "to_product_id": upgrade.to_product_id,
        "to_product": names.get(upgrade.to_product_id),
        "mode": upgrade.mode,
        "amount": f"{upgrade.amount:.2f}",
        "invoice_id": upgrade.invoice_id,
        "status": upgrade.status,
        "created_at": iso(upgrade.created_at),
        "completed_at": iso(upgrade.completed_at),
    }


# ----------------------------------------------------------------------------- upgrades


@dataclass(frozen=True)
class Remaining:
    """What is left of a service's paid time today, cycle by cycle from the anchor day.

    `whole_cycles` full cycles after the current one, and `current_days` local days left of
    the current one, which is `cycle_days` long (each cycle at its own length).
    """

    whole_cycles: int
    current_days: int
    cycle_days: int
    total_days: int

    @property
    def cycles(self) -> Decimal:
        """Whole cycles plus the fraction of the current one."""
        if self.cycle_days <= 0:
            return Decimal(self.whole_cycles)
        return self.whole_cycles + Decimal(self.current_days) / Decimal(self.cycle_days)

    @property
    def text(self) -> str:
        """`20 of 30 days`, or `2 cycles + 20 of 30 days` when renewed ahead."""
        days = f"{self.current_days} of {self.cycle_days} days"
        if not self.whole_cycles:
            return days
        return f"{self.whole_cycles} cycle{'s' if self.whole_cycles != 1 else ''} + {days}"


@dataclass
class UpgradeQuote:
    """What moving a service to a target product costs now, and whether it is allowed."""

    product_id: int
    product: str
    old_price: Decimal
    new_price: Decimal | None
    currency: str
    remaining: Remaining
    amount: Decimal
    why_not: str | None = None

    @property
    def available(self) -> bool:
        """True when the service may move to this product."""
        return self.why_not is None

    @property
    def remaining_days(self) -> int:
        """Local days from today to the expiry."""
        return self.remaining.total_days

    @property
    def cycle_days(self) -> int:
        """The length of the cycle today is in."""
        return self.remaining.cycle_days


def prorate(old_price: Decimal, new_price: Decimal, remaining_days: int, cycle_days: int, whole_cycles: int = 0) -> Decimal:
    """`(new_price - old_price) * (whole_cycles + remaining_days / cycle_days)`, rounded to cents.

    `remaining_days` are those left of the current cycle of `cycle_days`; with no whole cycle
    after it, this is SPEC.md's `(new - old) * remaining_days / cycle_days`.
    """
    if cycle_days <= 0 or (remaining_days <= 0 and whole_cycles <= 0):
        return ZERO
    return cents((Decimal(new_price) - Decimal(old_price)) * (whole_cycles + Decimal(max(remaining_days, 0)) / cycle_days))


def _longest_cycle_days(cycle: str) -> int:
    billing_cycle = cycles.BillingCycle(cycle)
    return 7 if billing_cycle is cycles.BillingCycle.WEEKLY else 31 * cycles.MONTHS_PER_CYCLE[billing_cycle]


def remaining_of(session: Session, service: Service) -> Remaining:
    """What is left of the service's paid time today: whole cycles and the current cycle's days (local dates)."""
    if service.expires_at is None or not cycles.is_recurring(service.billing_cycle):
        return Remaining(0, 0, 0, 0)
    tz = timezone_of(session)

    def boundary(back: int) -> date:
        if back == 0:
            return service.expires_at.astimezone(tz).date()  # type: ignore[union-attr]  # called only for services that expire
        return cycles.shift(service.expires_at, service.billing_cycle, -back, service.anchor_day, tz).astimezone(tz).date()  # type: ignore[arg-type]  # called only for services that expire

    expiry_day = boundary(0)
    today = clock.now().astimezone(tz).date()
    if today >= expiry_day:
        return Remaining(0, 0, (expiry_day - boundary(1)).days, 0)
    back = max(1, (expiry_day - today).days // _longest_cycle_days(service.billing_cycle))
    while boundary(back) > today:
        back += 1
    start, end = boundary(back), boundary(back - 1)
    return Remaining(back - 1, (end - today).days, (end - start).days, (expiry_day - today).days)


def upgrade_targets(session: Session, service: Service) -> list[Product]:
    """The products the service's product lists as upgrade targets."""
    if service.product_id is None:
        return []
    product = session.get(Product, service.product_id)
    if product is None or not product.upgrade_targets:
        return []
    ids = [int(identifier) for identifier in product.upgrade_targets]
    found = {item.id: item for item in session.exec(select(Product).where(col(Product.id).in_(ids))).all()}
    return [found[identifier] for identifier in ids if identifier in found]


def quote(session: Session, service: Service, target: Product) -> UpgradeQuote:
    """The prorated amount of moving `service` to `target` today, or why it cannot move."""
    listed = product_price(session, target.id or 0, service.billing_cycle)
    remaining = remaining_of(session, service)
    why_not = None
    if target.id not in {item.id for item in upgrade_targets(session, service)}:
        why_not = f"{target.name!r} is not an upgrade target of {service.product_name or 'a custom service'!r}"
    elif target.type != service.type:
        why_not = f"{target.name!r} is delivered by {target.type!r}, the service by {service.type!r}"
    elif listed is None:
        why_not = f"{target.name!r} has no {service.billing_cycle} price"
    elif listed.currency != service.currency:
        why_not = f"{target.name!r} is priced in {listed.currency}, the service in {service.currency}"
    new_price = listed.price if listed is not None else None
    amount = ZERO
    if new_price is not None:
        amount = max(prorate(service.price, new_price, remaining.current_days, remaining.cycle_days, remaining.whole_cycles), ZERO)
    return UpgradeQuote(target.id or 0, target.name, cents(service.price), new_price, service.currency, remaining, amount, why_not)


def quote_upgrades(session: Session, service_id: int) -> list[UpgradeQuote]:
    """A quote for every upgrade target of the service (for the Upgrade tab)."""
    service = get_service(session, service_id)
    return [quote(session, service, target) for target in upgrade_targets(session, service)]


def upgrades_of(session: Session, service_id: int, *, open_only: bool = False) -> list[Upgrade]:
    """The service's upgrades, newest first (only those awaiting payment or running with `open_only`)."""
    query = select(Upgrade).where(Upgrade.service_id == service_id)
    if open_only:
        query = query.where(col(Upgrade.status).in_(OPEN_UPGRADE_STATUSES))
    return list(session.exec(query.order_by(col(Upgrade.id).desc())).all())


def product_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Product names by id, for showing upgrades."""
    if not ids:
        return {}
    return {product.id or 0: product.name for product in session.exec(select(Product).where(col(Product.id).in_(list(ids)))).all()}


def parse_billing(text: str) -> UpgradeBilling:
    """`invoice` or `none` (also `no_billing`), as typed after --billing."""
    value = (text or "").strip().lower().replace("-", "_")
    if value == "invoice":
        return UpgradeBilling.INVOICE
    if value in {"none", "no_billing"}:
        return UpgradeBilling.NO_BILLING
    raise InvalidInput("--billing", f"{text!r} is not a billing mode (invoice or none)")


def open_upgrade(session: Session, service_id: int, *, besides: int | None = None) -> Upgrade | None:
    query = select(Upgrade).where(col(Upgrade.service_id) == service_id, col(Upgrade.status).in_(OPEN_UPGRADE_STATUSES))
    if besides is not None:
        query = query.where(Upgrade.id != besides)
    return session.exec(query).first()


def checked_target(session: Session, service: Service, target_ref: str | int) -> tuple[Product, UpgradeQuote]:
    target = resolve_product(session, target_ref, "--to")
    offer = quote(session, service, target)
    if offer.why_not is not None:
        raise refuse(service, "upgrade", offer.why_not)
    return target, offer


def _check_upgrade(ctx: ActionContext) -> None:
    service = ctx.service
    if "to" not in ctx.params:
        raise InvalidInput("--to", "an upgrade needs the target product")
    target, offer = checked_target(ctx.session, service, ctx.params["to"])
    upgrade_id = ctx.params.get("upgrade_id")
    busy = open_upgrade(ctx.session, service.id or 0, besides=upgrade_id)
    if busy is not None:
        raise ctx.refuse("upgrade", f"upgrade {busy.id} is {busy.status} already")
    if upgrade_id is None:
        upgrade = Upgrade(
            service_id=service.id or 0,
            from_product_id=service.product_id,
            to_product_id=target.id or 0,
            mode=UpgradeBilling.NO_BILLING.value,
            amount=ZERO,
            status=UpgradeStatus.IN_PROGRESS.value,
            created_at=clock.now(),
        )
        ctx.session.add(upgrade)
        ctx.session.flush()
        ctx.params["upgrade_id"] = upgrade.id
    ctx.params["to"] = target.id
    if ctx.params.get("price") is None:
        ctx.params["price"] = str(offer.new_price)
    ctx.params["_product_ref"] = asdict(service_product_ref(ctx.session, ctx.service, target))


def _apply_upgrade(ctx: ActionContext) -> str:
    service = ctx.service
    before_status = service.status
    upgrade = ctx.session.get(Upgrade, int(ctx.params["upgrade_id"]))
    target = ctx.session.get(Product, int(ctx.params["to"]))
    if upgrade is None or target is None:
        raise NotFound(f"upgrade: upgrade {ctx.params.get('upgrade_id')} or product {ctx.params.get('to')} is gone")
    old_product, old_price = service.product_name, service.price
    new_price = cents(ctx.params["price"])
    if ctx.result is not None and ctx.result.external:
        store_external(service, ctx.result.external)
    option_catalog.keep_applied_amounts(ctx.session, service)
    service.product_id = target.id
    service.product_name = target.name
    service.price = new_price
    upgrade.status = UpgradeStatus.DONE.value
    upgrade.completed_at = clock.now()
    ctx.session.add(upgrade)
    activity.record(
        ctx.session,
        service,
        ctx.actor,
        "upgrade",
        from_status=before_status,
        to_status=service.status,
        reason=ctx.params.get("reason"),
        details={
            "upgrade": upgrade.id,
            "from": old_product,
            "to": target.name,
            "price": [str(old_price), str(new_price)],
            "mode": upgrade.mode,
            "invoice": upgrade.invoice_id,
        },
    )
    return f"{old_product} -> {target.name}, price {cents(old_price)} -> {new_price} {service.currency}"


def _upgrade_call(ctx: ActionContext) -> str | None:
    return "change_package" if module_supports(ctx.service, "change_package") else None


def upgrade_failed(session: Session, job: Job, error: str) -> None:
    upgrade_id = (job.params or {}).get("upgrade_id")
    upgrade = session.get(Upgrade, int(upgrade_id)) if upgrade_id is not None else None
    if upgrade is not None and upgrade.status == UpgradeStatus.IN_PROGRESS.value:
        upgrade.status = UpgradeStatus.FAILED.value
        upgrade.completed_at = clock.now()
        session.add(upgrade)


UPGRADE = ActionImpl(_check_upgrade, _apply_upgrade, _upgrade_call)
"""The upgrade action: move the service to another product (with the module's change_package when it has one)."""
