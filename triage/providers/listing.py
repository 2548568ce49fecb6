"""The DirectoryReader protocol: how the service reads a published directory of services
(Open Referral UK: HSDS 3 with the UK profile) into the few fields it takes from it.

The implementation lives in `adapters/oruk/` and is wired in by `triage/app.py` only; what
is done with the services read (`triage.providers.directory_import`) is the domain's.
"""

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ListedService:
    """One well-formed service of the directory, in the directory's own terms (HSDS names)."""

    where: str  # its JSON path in the source: "contents[3]", "page 2: contents[0]", "services[1]"
    service_id: str  # HSDS `id`
    name: str
    status: str  # active, inactive, defunct or "temporarily closed"
    description: str | None = None
    email: str | None = None
    url: str | None = None
    minimum_age: float | None = None
    maximum_age: float | None = None
    service_areas: tuple[str, ...] = ()  # each area's name as the directory gives it

    def path(self, name: str) -> str:
        """The JSON path of one of the service's fields, to name it in a problem."""
        return f"{self.where}.{name}" if self.where else name


@dataclass(frozen=True)
class ListingProblem:
    """A service the source lists but that cannot be read: a required field missing or a
    value of the wrong kind, named by its JSON path (`services[3].name`)."""

    where: str
    reason: str
    service_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Listing:
    """Every service read from one source, in order, and the ones that could not be read."""

    source: str
    services: list[ListedService]
    problems: list[ListingProblem] = field(default_factory=list)
    pages: int = 1
    notes: list[str] = field(default_factory=list)  # what the reader could not do, in words


class DirectoryUnreadable(Exception):
    """The source as a whole cannot be read: missing, refused, not JSON, not a directory."""


class DirectoryReader(Protocol):
    def read(self, source: str) -> Listing:
        """Every service of the document at `source`, a file path or an http(s) URL: a
        service, a page of a service list (every page, from a URL), or an organization with
        its services. Raises `DirectoryUnreadable` when nothing can be read."""
        ...
