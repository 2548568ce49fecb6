"""Domain errors. They carry no HTTP status: `triage/app.py` maps each to one."""

from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(DomainError):
    """The thing does not exist, or lies outside the caller's scope."""


class NotAuthenticated(DomainError):
    """No token, or one that is unknown, expired or revoked."""


class Forbidden(DomainError):
    """The caller's role may never do this."""


class Conflict(DomainError):
    """The request cannot be applied to the current state of the thing."""


class InvalidInput(DomainError):
    """Input that passed the schema but names something that does not exist.

    `field` is the location of the bad value, as in a pydantic error (`("body", "provider")`).
    """

    def __init__(self, message: str, *, field: tuple[str | int, ...], value: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
