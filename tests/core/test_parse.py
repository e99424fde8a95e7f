"""User input parsing: ASCII digits only, and limits that agree however far past them a value is."""

import pytest

from svcconsole.core import parse
from svcconsole.core.errors import InvalidInput

NON_ASCII_DIGITS = ["١٢", "１２", "５", "²", "①", "٣"]


@pytest.mark.parametrize("text", NON_ASCII_DIGITS)
def test_ids_whole_numbers_and_amounts_take_ascii_digits_only(text):
    for parser in (parse.parse_id, parse.parse_int, parse.parse_money):
        with pytest.raises(InvalidInput) as refused:
            parser("--field", text)
        assert refused.value.message.startswith("--field: ") and "\n" not in refused.value.message
    assert parse.looks_like_id(text) is False


@pytest.mark.parametrize("text", [*NON_ASCII_DIGITS, "７d"])
def test_durations_take_ascii_digits_only(text):
    with pytest.raises(InvalidInput, match="not a duration"):
        parse.parse_duration("--expiring-within", text)


def test_ascii_input_still_parses():
    assert (parse.parse_id("id", " 12 "), parse.parse_int("n", "-7"), str(parse.parse_money("p", "12.5")), parse.parse_money("p", "1e2")) == (
        12,
        -7,
        "12.50",
        100,
    )
    assert parse.parse_duration("d", "2w").days == 14 and parse.parse_duration("d", "12h").total_seconds() == 12 * 3600


@pytest.mark.parametrize("text", ["36501d", "99999d", "3000000d", "9" * 30 + "d", "9" * 5000, "5215w", "1217m", "876001h"])
def test_a_duration_past_the_limit_is_too_long_however_far_past(text):
    with pytest.raises(InvalidInput, match="too long"):
        parse.parse_duration("--expiring-within", text)


def test_the_longest_duration_is_accepted():
    assert parse.parse_duration("d", "36500d").days == 36500 and parse.parse_duration("d", "876000h").days == 36500


@pytest.mark.parametrize("address", ["a" * 65 + "@example.com", "a" * 300 + "@example.com", "bob@" + "x" * 250 + ".com"])
def test_emails_past_the_usual_limits_are_refused(address):
    with pytest.raises(InvalidInput) as refused:
        parse.parse_email("--email", address)
    assert refused.value.message.startswith("--email: ") and len(refused.value.message) < 200


def test_emails_at_the_limits_are_accepted():
    local = "a" * 64
    assert parse.parse_email("--email", f"{local}@Example.com") == f"{local}@example.com"
    longest = "b@" + ".".join(["x" * 63] * 3) + "." + "y" * (254 - 2 - 3 * 64)
    assert len(longest) == 254 and parse.parse_email("--email", longest) == longest


@pytest.mark.parametrize("text", ["2999-12-31T23:59:59-12:00", "1900-01-01T00:00:00+14:00", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00+23:00"])
def test_a_date_in_range_only_by_its_offset_is_refused(text):
    from zoneinfo import ZoneInfo

    with pytest.raises(InvalidInput, match="out of range"):
        parse.parse_date("--expires", text, ZoneInfo("UTC"))


def test_dates_at_the_limits_are_accepted_in_utc_and_in_the_time_zone():
    from zoneinfo import ZoneInfo

    assert parse.parse_date("--expires", "2999-12-31T23:59:59", ZoneInfo("UTC")).year == 2999
    assert parse.parse_date("--expires", "1900-01-01", ZoneInfo("UTC")).year == 1900
    with pytest.raises(InvalidInput, match="out of range"):
        parse.parse_date("--expires", "2999-12-31T23:30", ZoneInfo("America/New_York"))
