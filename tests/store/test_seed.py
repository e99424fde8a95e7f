"""The demo seeder: realistic spread, consistent with the schema, and repeatable."""

from decimal import Decimal

from sqlmodel import func, select

from svcconsole.core.seed import seed_demo
from svcconsole.modules import external_key
from svcconsole.store import schema
from svcconsole.store.models import Activity, Customer, Renewal, Service, ServiceMeta, ServiceOption


def test_a_bulk_seed_rebuilds_its_indexes_and_covers_every_status(db, frozen):
    result = seed_demo(db, services=50_000, random_seed=3)
    assert result.services == 50_000 and result.customers == 6_250
    report = schema.check(db)
    assert report.differences == [] and report.integrity == "ok"
    with db.read() as session:
        statuses = dict(session.exec(select(Service.status, func.count()).group_by(Service.status)).all())
        counts = [session.exec(select(func.count()).select_from(model)).one() for model in (Customer, ServiceOption, ServiceMeta, Renewal)]
        customer_names_match = session.exec(
            select(func.count()).select_from(Service).join(Customer, Customer.id == Service.customer_id).where(Customer.name != Service.customer_name)
        ).one()
    assert set(statuses) == {"pending", "active", "suspended", "expired", "cancelled", "terminated", "deleted"}
    assert 0.6 < statuses["active"] / 50_000 < 0.8
    assert counts[0] == 6_250 and all(count > 0 for count in counts[1:])
    assert customer_names_match == 0


def test_seeding_twice_appends_with_fresh_ids(db, frozen):
    seed_demo(db, services=200, random_seed=1)
    seed_demo(db, services=100, random_seed=2)
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(Service)).one() == 300
        assert session.exec(select(func.max(Service.id))).one() == 300
        assert session.exec(select(func.count()).select_from(Activity)).one() > 300


def test_the_demo_has_each_renewal_limit_key(db, frozen):
    seed_demo(db, services=5_000, random_seed=5)
    with db.read() as session:
        keys = dict(session.exec(select(ServiceMeta.key, func.count()).group_by(ServiceMeta.key)).all())
        weekly = session.exec(select(ServiceMeta.value).where(ServiceMeta.key == "max_renewals_in_current_week")).all()
    assert {"max_renewals", "max_renewals_in_current_month", "max_renewals_in_current_week"} <= set(keys)
    assert set(weekly) == {"2"}


def test_seeded_services_hold_the_resource_key_their_module_reads_and_exact_money(db, frozen):
    """The bulk seeder writes `external_key` and money itself (no ORM): they must match what core
    would have written (the module's key of `external`; money read back as the seeded Decimals)."""
    seed_demo(db, services=400, random_seed=9)
    with db.read() as session:
        rows = session.exec(select(Service.type, Service.external, Service.external_key, Service.price)).all()
        options = set(session.exec(select(ServiceOption.price)).all())
    assert all(key == external_key(kind, external) for kind, external, key, _ in rows)
    assert sum(1 for *_, key, _ in rows if key is not None) > 100
    assert all(isinstance(price, Decimal) and price == price.quantize(Decimal("0.01")) for *_, price in rows)
    assert options <= {Decimal("1.00"), Decimal("2.50"), Decimal("3.00")} and options
