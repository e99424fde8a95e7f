"""Fixtures shared with the billing tests: a local SMTP server."""

from tests.billing.conftest import smtp  # noqa: F401 - the fixture, used here by name
