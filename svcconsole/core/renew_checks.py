"""Extra checks on renewing a service now (not by paying an invoice).

`services` runs them before a renewal applies; `billing` adds its own (an unpaid renewal
invoice for the same period) through `add`, so neither module has to import the other here.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from svcconsole.store.models import Service

RenewCheck = Callable[[Session, Service], None]
"""Raises a refusal when renewing `service` now must not happen."""

CHECKS: list[RenewCheck] = []


def add(check: RenewCheck) -> None:
    """Run `check` before every renewal that is not an invoice being paid."""
    if check not in CHECKS:
        CHECKS.append(check)


def check_renew_now(session: Session, service: Service) -> None:
    for check in CHECKS:
        check(session, service)
