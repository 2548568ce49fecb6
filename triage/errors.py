"""Domain errors. They carry no HTTP status: `triage/app.py` maps each to one."""

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


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


class Throttled(DomainError):
    """Too many tries, or too busy: try again after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class InvalidInput(DomainError):
    """Input that passed the schema but names something that does not exist.

    `field` is the location of the bad value, as in a pydantic error (`("body", "provider")`).
    """

    def __init__(self, message: str, *, field: tuple[str | int, ...], value: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class BodyInvalid(Exception):
    """A request body that failed validation; carries pydantic's errors (locations in body)."""

    def __init__(self, errors: list[Any]) -> None:
        super().__init__("invalid request body")
        self.errors = errors


def parse_body(model: "type[M]", payload: bytes) -> "M":
    """Validate a raw JSON body against `model`, raising BodyInvalid (answered as 422).

    Routes read the body raw and validate it after the caller's role and scope are checked,
    so the order of answers stays 401, 403, 404, 422, 409.
    """
    try:
        return model.model_validate_json(payload or b"{}")
    except ValidationError as error:
        raise BodyInvalid(error.errors(include_url=False)) from error
