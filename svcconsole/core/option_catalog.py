"""The catalogue of configurable options: what a product offers to choose at order time.

An option is a list of choices, each with its price, or a quantity in a range at a unit price;
prices are per billing cycle of the service (each renewal adds them). An option with a
`resource` is applied by the module: the choice's value, or the quantity times `unit`, is added
to that key of the product's config (`with_extras`), so delivery, the module's `add_option` and
reconcile all work from the same build.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from svcconsole.core import activity, clock, parse
from svcconsole.core.catalog import resolve_product
from svcconsole.core.errors import InvalidInput, NotFound
from svcconsole.core.operators import Actor, require
from svcconsole.core.statuses import NON_TRANSITION_ROLES
from svcconsole.modules import get_module, is_module
from svcconsole.store.models import Product, ProductOption, Service, ServiceOption

MAX_QUANTITY = 100000
OPTION_FIELD = "--option"


@dataclass(frozen=True)
class Chosen:
    """One option chosen for a service: what it bills per cycle and what it adds to the build."""

    name: str
    value: str | None
    quantity: int
    price: Decimal
    resource: str | None
    amount: int | None

    @property
    def total(self) -> Decimal:
        """What the option adds to each renewal."""
        return (self.price * self.quantity).quantize(Decimal("0.01"))

    @property
    def text(self) -> str:
        return f"{self.name}={self.value if self.value is not None else self.quantity}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "quantity": self.quantity,
            "price": f"{self.price:.2f}",
            "resource": self.resource,
            "amount": self.amount,
        }


def _is_whole(text: str) -> bool:
    """True for a whole number written in ASCII digits (not `²` or `١٢`, which `isdigit` accepts)."""
    return text.isascii() and text.isdigit() and len(text) <= 12


def option_dict(option: ProductOption) -> dict[str, Any]:
    """A catalogue option as a JSON-ready dict."""
    return {
        "id": option.id,
        "product_id": option.product_id,
        "name": option.name,
        "choices": [dict(choice) for choice in option.choices or []],
        "minimum": option.minimum,
        "maximum": option.maximum,
        "unit_price": f"{option.unit_price:.2f}" if not option.choices else None,
        "resource": option.resource,
        "unit": option.unit if option.resource and not option.choices else None,
        "accepts": accepted_text(option),
    }


def accepted_text(option: ProductOption) -> str:
    """What the option accepts, with prices: `1024 (2.00) or 2048 (4.00)`, `1 to 8 at 1.50 each`."""
    if option.choices:
        return " or ".join(f"{choice['value']} ({choice['price']})" for choice in option.choices)
    return f"{option.minimum} to {option.maximum} at {option.unit_price:.2f} each"


def catalogue_of(session: Session, product_id: int) -> list[ProductOption]:
    """The options a product offers, in the order they were declared."""
    return list(session.exec(select(ProductOption).where(ProductOption.product_id == product_id).order_by(col(ProductOption.id))).all())


def _parse_choices(pairs: Sequence[str], resource: str | None) -> list[dict[str, str]]:
    choices: list[dict[str, str]] = []
    for pair in pairs:
        value, separator, price = str(pair).partition("=")
        value = value.strip()
        if not separator or not value:
            raise InvalidInput("--choice", f"{pair!r} is not VALUE=PRICE (such as 2048=4.00)")
        if resource and not _is_whole(value):
            raise InvalidInput("--choice", f"{value!r} is not a whole number: a choice the module applies adds its value to {resource}")
        if any(choice["value"] == value for choice in choices):
            raise InvalidInput("--choice", f"{value!r} is given twice")
        choices.append(
            {"value": parse.parse_text("--choice", value, required=True, max_length=100) or "", "price": f"{parse.parse_money('--choice', price):.2f}"}
        )
    return choices


def _parse_resource(product: Product, resource: str | None) -> str | None:
    if resource in (None, ""):
        return None
    name = str(resource).strip().lower()
    module = get_module(product.type) if is_module(product.type) else None
    offered = sorted(module.option_resources) if module is not None else []
    if name not in offered:
        accepted = ", ".join(offered) if offered else f"none: module {product.type} applies no option (leave --resource out)"
        raise InvalidInput("--resource", f"{name!r} is not a resource the {product.type} module applies (accepted: {accepted})")
    if not _is_whole(str((product.config or {}).get(name, "")).strip()):
        raise InvalidInput("--resource", f"product {product.name!r} sets no {name} in its config: the option adds to it (products edit --config {name}=N)")
    return name


def declare_option(
    session: Session,
    actor: Actor,
    product_ref: str | int,
    *,
    name: str,
    choices: Sequence[str] = (),
    minimum: str | int | None = None,
    maximum: str | int | None = None,
    price: str | None = None,
    resource: str | None = None,
    unit: str | int = 1,
) -> ProductOption:
    """Add an option to a product's catalogue: `choices` (VALUE=PRICE) or a quantity range at `price` each."""
    require(actor, NON_TRANSITION_ROLES["catalog"], "changing the option catalogue")
    product = resolve_product(session, product_ref, "product")
    option_name = parse.parse_text("--name", name, required=True) or ""
    if "=" in option_name:
        raise InvalidInput("--name", "an option's name cannot hold '=' (it is chosen as NAME=VALUE)")
    if session.exec(select(ProductOption).where(ProductOption.product_id == product.id, ProductOption.name == option_name)).first() is not None:
        raise InvalidInput("--name", f"product {product.name!r} has an option named {option_name!r} already")
    applied = _parse_resource(product, resource)
    ranged = minimum is not None or maximum is not None
    if bool(choices) == ranged:
        raise InvalidInput("--choice", "give either --choice VALUE=PRICE (repeatable) or --min and --max with --price")
    option = ProductOption(product_id=product.id or 0, name=option_name, resource=applied, created_at=clock.now())
    if choices:
        if price is not None:
            raise InvalidInput("--price", "a choice carries its own price (--choice VALUE=PRICE); --price goes with --min and --max")
        option.choices = _parse_choices(choices, applied)
    else:
        low = parse.parse_int("--min", minimum if minimum is not None else "", minimum=0, maximum=MAX_QUANTITY)
        high = parse.parse_int("--max", maximum if maximum is not None else "", minimum=max(low, 1), maximum=MAX_QUANTITY)
        option.minimum, option.maximum = low, high
        option.unit_price = parse.parse_money("--price", price if price is not None else "")
        option.unit = parse.parse_int("--unit", unit, minimum=1, maximum=1_000_000)
    session.add(option)
    session.flush()
    activity.record_change(session, actor, "product", product.id or 0, "option_declare", details=option_dict(option))
    return option


def remove_option(session: Session, actor: Actor, product_ref: str | int, name: str) -> None:
    """Take an option out of a product's catalogue (services that chose it keep it and its price)."""
    require(actor, NON_TRANSITION_ROLES["catalog"], "changing the option catalogue")
    product = resolve_product(session, product_ref, "product")
    option = _find(session, product, name)
    if option is None:
        raise NotFound(f"option: product {product.name!r} has no option {name!r}")
    activity.record_change(session, actor, "product", product.id or 0, "option_remove", details=option_dict(option))
    session.delete(option)
    session.flush()


def _find(session: Session, product: Product, name: str) -> ProductOption | None:
    return session.exec(select(ProductOption).where(ProductOption.product_id == product.id, ProductOption.name == name.strip())).first()


def _offered_names(session: Session, product: Product) -> str:
    names = [option.name for option in catalogue_of(session, product.id or 0)]
    return ", ".join(names) if names else "none: the product offers no option"


def choose(session: Session, product: Product, text: str) -> Chosen:
    """`NAME=VALUE` checked against the product's catalogue (for a quantity, VALUE is how many)."""
    name, separator, value = str(text).partition("=")
    name, value = name.strip(), value.strip()
    if not separator or not name:
        raise InvalidInput(OPTION_FIELD, f"{text!r} is not NAME=VALUE (options of {product.name!r}: {_offered_names(session, product)})")
    option = _find(session, product, name)
    if option is None:
        raise InvalidInput(OPTION_FIELD, f"product {product.name!r} has no option {name!r} (accepted: {_offered_names(session, product)})")
    if option.choices:
        choice = next((choice for choice in option.choices if choice["value"] == value), None)
        if choice is None:
            raise InvalidInput(OPTION_FIELD, f"{value!r} is not a choice of {option.name!r} (accepted: {accepted_text(option)})")
        amount = int(value) if option.resource else None
        return Chosen(option.name, value, 1, Decimal(choice["price"]), option.resource, amount)
    low, high = option.minimum or 0, option.maximum or 0
    if not _is_whole(value) or not low <= int(value) <= high:
        raise InvalidInput(OPTION_FIELD, f"{value!r} is not a quantity of {option.name!r} (accepted: {accepted_text(option)})")
    quantity = int(value)
    return Chosen(option.name, None, quantity, option.unit_price, option.resource, quantity * option.unit if option.resource else None)


def choose_all(session: Session, product: Product, texts: Iterable[str]) -> list[Chosen]:
    """Every `NAME=VALUE` of an order, each option at most once; a quantity of 0 chooses nothing."""
    chosen: list[Chosen] = []
    for text in texts:
        item = choose(session, product, text)
        if any(other.name == item.name for other in chosen):
            raise InvalidInput(OPTION_FIELD, f"{item.name!r} is chosen twice (one value per option)")
        if item.quantity > 0:
            chosen.append(item)
    return chosen


def extras_of(session: Session, service: Service) -> dict[str, int]:
    """What the service's options add to each resource of its build (what each kept when it was
    chosen; an older row without it, what its product's catalogue says)."""
    if service.id is None:
        return {}
    chosen = session.exec(select(ServiceOption).where(ServiceOption.service_id == service.id)).all()
    if not chosen:
        return {}
    return extras_from(service.product_id, chosen, applied_catalogue(session, {service.product_id}))


def applied_catalogue(session: Session, product_ids: Iterable[int | None]) -> dict[tuple[int, str], ProductOption]:
    """The options the module applies of these products, by (product id, name)."""
    wanted = [product_id for product_id in set(product_ids) if product_id is not None]
    if not wanted:
        return {}
    query = select(ProductOption).where(col(ProductOption.product_id).in_(wanted), col(ProductOption.resource).is_not(None))
    return {(option.product_id, option.name): option for option in session.exec(query).all()}


def extras_from(product_id: int | None, chosen: Iterable[ServiceOption], catalogue: dict[tuple[int, str], ProductOption]) -> dict[str, int]:
    """What options chosen for a service of `product_id` add to each resource: the resource and
    amount an option kept when it was chosen, else (an older row) what the catalogue gives."""
    extras: dict[str, int] = {}
    for row in chosen:
        resource, amount = applied_amount(row, catalogue.get((product_id or 0, row.name)))
        if resource is not None and amount is not None:
            extras[resource] = extras.get(resource, 0) + amount
    return extras


def keep_applied_amounts(session: Session, service: Service) -> None:
    """Write on each of the service's older options what its catalogue gives it today, before
    the service leaves that product (an upgrade), so the panel keeps what is billed."""
    catalogue = applied_catalogue(session, {service.product_id})
    for row in session.exec(select(ServiceOption).where(ServiceOption.service_id == service.id, col(ServiceOption.resource).is_(None))).all():
        resource, amount = applied_amount(row, catalogue.get((service.product_id or 0, row.name)))
        if resource is not None and amount is not None:
            row.resource, row.amount = resource, amount
            session.add(row)


def applied_amount(row: ServiceOption, option: ProductOption | None) -> tuple[str | None, int | None]:
    """The resource a chosen option raises and by how much (None, None: a billing record only)."""
    if row.resource is not None:
        return row.resource, row.amount
    if option is None or not option.resource:
        return None, None
    return option.resource, _amount(row, option)


def _amount(chosen: ServiceOption, option: ProductOption) -> int | None:
    if option.choices:
        value = chosen.value or ""
        return int(value) * chosen.quantity if _is_whole(value) else None
    return chosen.quantity * option.unit


def with_extras(config: dict[str, Any], extras: dict[str, int]) -> dict[str, Any]:
    """A product config with the options' amounts added to the keys they raise."""
    built = dict(config)
    for key, amount in extras.items():
        base = str(built.get(key, "0")).strip()
        built[key] = (int(base) if _is_whole(base) else 0) + amount
    return built
