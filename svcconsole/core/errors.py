"""The errors core raises; each is one line a user can act on, with the CLI exit code it means."""

from __future__ import annotations


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


class PermissionDenied(SvcError):
    """The acting operator's role (or read-only mode) does not allow this."""

    exit_code = 4
