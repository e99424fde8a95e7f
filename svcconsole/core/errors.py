"""The errors core raises; each is one line a user can act on, with the CLI exit code it means."""

from __future__ import annotations

from svcconsole.store.engine import DuplicateValue


class SvcError(Exception):
    """A refusal or failure that changed nothing; `str()` is the one line to show."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(SvcError):
    """A value the user gave is not acceptable: names the field and what is accepted."""

    exit_code = 2

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFound(SvcError):
    """An id, email or name that matches nothing."""


class TransitionRefused(SvcError):
    """The action is not allowed from the service's status (or another rule forbids it)."""

    def __init__(self, service_id: int, status: str, action: str, why: str) -> None:
        super().__init__(f"service {service_id} is {status}: cannot {action}: {why}")
        self.service_id = service_id
        self.status = status
        self.action = action


class Conflict(SvcError):
    """Someone else changed the record since it was read; nothing was overwritten."""


class AlreadyLinked(SvcError):
    """A panel resource that another live service of the same server holds already."""


class PermissionDenied(SvcError):
    """The acting operator's role (or read-only mode) does not allow this."""

    exit_code = 4


DUPLICATE_FIELDS: dict[tuple[str, tuple[str, ...]], tuple[str, str]] = {
    ("customer", ("email",)): ("--email", "another customer has this email"),
    ("product", ("name",)): ("--name", "a product with this name exists already"),
    ("server", ("name",)): ("--name", "a server with this name exists already"),
    ("operator", ("login",)): ("LOGIN", "this operator exists already"),
    ("service_meta", ("service_id", "key")): ("KEY", "the service has this metadata key already"),
    ("product_price", ("product_id", "billing_cycle")): ("--price", "the product has a price for this cycle already"),
    ("setting", ("key",)): ("KEY", "this setting has a value already"),
    ("service", ("server_id", "external_key")): ("--external", "another live service of this server holds this panel resource"),
}
"""The input field behind each unique constraint, and what a duplicate means there."""


def duplicate_input(error: DuplicateValue) -> InvalidInput:
    """A unique value another session saved first, as the input error naming the field."""
    field, meaning = DUPLICATE_FIELDS.get((error.table, error.columns), (f"{error.table} {', '.join(error.columns)}", "that value exists already"))
    return InvalidInput(field, f"{meaning} (another session saved it at the same moment); nothing was changed")
