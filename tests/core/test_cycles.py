"""Billing-cycle date math on the anchor day (SPEC.md section 4)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from svcconsole.core import cycles

UTC_ZONE = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")


def at(year, month, day, tz=UTC_ZONE):
    return datetime(year, month, day, tzinfo=tz).astimezone(UTC)


def days_of(moments, tz=UTC_ZONE):
    return [moment.astimezone(tz).date().isoformat() for moment in moments]


def step(start, cycle, count, tz=UTC_ZONE):
    anchor = cycles.anchor_day_of(start, tz)
    result, current = [], start
    for _ in range(count):
        current = cycles.shift(current, cycle, 1, anchor, tz)
        result.append(current)
    return result


def test_monthly_from_january_31_keeps_the_month_end():
    assert days_of(step(at(2027, 1, 31), "monthly", 4)) == ["2027-02-28", "2027-03-31", "2027-04-30", "2027-05-31"]


def test_monthly_from_january_31_in_a_leap_year():
    assert days_of(step(at(2028, 1, 31), "monthly", 3)) == ["2028-02-29", "2028-03-31", "2028-04-30"]


def test_quarterly_from_november_30():
    assert days_of(step(at(2026, 11, 30), "quarterly", 3)) == ["2027-02-28", "2027-05-30", "2027-08-30"]
    assert days_of(step(at(2027, 11, 30), "quarterly", 1)) == ["2028-02-29"]


def test_weekly_adds_seven_days_across_month_and_year_ends():
    assert days_of(step(at(2026, 12, 28), "weekly", 2)) == ["2027-01-04", "2027-01-11"]


def test_annual_from_a_leap_day_comes_back_to_the_leap_day():
    assert days_of(step(at(2028, 2, 29), "annually", 4)) == ["2029-02-28", "2030-02-28", "2031-02-28", "2032-02-29"]


@pytest.mark.parametrize(
    ("cycle", "expected"),
    [("semiannually", "2027-07-31"), ("biennially", "2029-01-31"), ("triennially", "2030-01-31")],
)
def test_longer_cycles(cycle, expected):
    assert days_of([cycles.shift(at(2027, 1, 31), cycle, 1, 31, UTC_ZONE)]) == [expected]


def test_several_cycles_at_once_equal_the_steps_one_by_one():
    start = at(2027, 1, 31)
    assert cycles.shift(start, "monthly", 3, 31, UTC_ZONE) == step(start, "monthly", 3)[-1]
    assert days_of([cycles.shift(start, "monthly", 13, 31, UTC_ZONE)]) == ["2028-02-29"]


def test_shifting_back_one_cycle_returns_to_the_anchor_day():
    assert days_of([cycles.shift(at(2027, 2, 28), "monthly", -1, 31, UTC_ZONE)]) == ["2027-01-31"]


def test_add_and_subtract_days():
    start = at(2027, 2, 27)
    assert days_of([cycles.shift_days(start, 3, UTC_ZONE)]) == ["2027-03-02"]
    assert days_of([cycles.shift_days(start, -58, UTC_ZONE)]) == ["2026-12-31"]


def test_date_math_happens_in_the_configured_time_zone():
    start = at(2027, 1, 31, PARIS)
    moved = cycles.shift(start, "monthly", 1, 31, PARIS)
    assert moved.astimezone(PARIS).isoformat() == "2027-02-28T00:00:00+01:00"
    across_dst = cycles.shift_days(at(2027, 3, 27, PARIS), 2, PARIS)
    assert across_dst.astimezone(PARIS).isoformat() == "2027-03-29T00:00:00+02:00"


def test_non_recurring_cycles_cannot_be_shifted():
    with pytest.raises(ValueError):
        cycles.shift(at(2027, 1, 1), "onetime", 1, 1, UTC_ZONE)
    assert not cycles.is_recurring("free")
