"""The parts of an Open Referral UK document the import reads, as pydantic models that ignore
every other field: a service (`service.json`), a page of a service list (`contents` of
`service_list.json` items), an organization with its `services` (`organization.json`), or
a JSON array of any of these (a package).

A service that lacks a field the schema requires (`id`, `name`, `status`) or holds a value of
the wrong kind in a field the import reads is a problem named by its JSON path; the others
are read.
"""

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from triage.providers.listing import ListedService, ListingProblem

STATUSES = ("active", "inactive", "defunct", "temporarily closed")
Number = Annotated[float, Strict()]  # a JSON number: "12" and true are not ages
Word = Annotated[str, Strict()]


class ServiceArea(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Word | None = None
    service_area: Word | None = None  # the free text some UK profile feeds use instead

    @property
    def label(self) -> str | None:
        return next((t.strip() for t in (self.name, self.service_area) if t and t.strip()), None)


class Service(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Annotated[Word, Field(min_length=1)]
    name: Word
    status: Literal["active", "inactive", "defunct", "temporarily closed"]
    description: Word | None = None
    email: Word | None = None
    url: Word | None = None
    minimum_age: Number | None = None
    maximum_age: Number | None = None
    service_areas: list[ServiceArea] | None = None


@dataclass(frozen=True)
class PageInfo:
    """Where a page of a list stands: `page_number` of `total_pages`, or the last."""

    number: int | None
    total: int | None
    last: bool | None

    @property
    def is_last(self) -> bool:
        if self.last is not None:
            return self.last
        return self.total is None or self.number is None or self.number >= self.total


@dataclass
class Found:
    services: list[ListedService] = field(default_factory=list)
    problems: list[ListingProblem] = field(default_factory=list)


def page_info(document: Any) -> PageInfo | None:
    """The paging of a list page, or None if `document` is not one."""
    if not isinstance(document, dict) or "contents" not in document:
        return None

    def whole(key: str) -> int | None:
        value = document.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    last = document.get("last_page")
    return PageInfo(
        whole("page_number"), whole("total_pages"), last if isinstance(last, bool) else None
    )


def services_in(document: Any, prefix: str = "") -> Found:
    """Every service in a document, each read or named as a problem by its path."""
    found = Found()
    _collect(document, prefix, found, top=True)
    return found


def _collect(document: Any, where: str, found: Found, *, top: bool = False) -> None:
    if isinstance(document, list) and top:
        for i, item in enumerate(document):
            _collect(item, f"{where}[{i}]", found)
    elif isinstance(document, dict) and ("contents" in document or "services" in document):
        key = "contents" if "contents" in document else "services"
        items = document[key]
        if not isinstance(items, list):
            found.problems.append(ListingProblem(where, f"{_join(where, key)}: must be a list"))
            return
        for i, item in enumerate(items):
            _service(item, f"{_join(where, key)}[{i}]", found)
    elif isinstance(document, dict):
        _service(document, where, found)
    else:
        found.problems.append(ListingProblem(where, f"{where or 'the document'}: not an object"))


def _service(item: Any, where: str, found: Found) -> None:
    if not isinstance(item, dict):
        found.problems.append(ListingProblem(where, f"{where}: must be an object"))
        return
    try:
        service = Service.model_validate(item)
    except ValidationError as error:
        reasons = [f"{_path(where, e['loc'])}: {_said(e)}" for e in error.errors(include_url=False)]
        found.problems.append(
            ListingProblem(
                where, "; ".join(reasons), _text(item.get("id")), _text(item.get("name"))
            )
        )
        return
    areas = [a.label for a in service.service_areas or () if a.label]
    found.services.append(
        ListedService(
            where=where,
            service_id=service.id,
            name=service.name,
            status=service.status,
            description=service.description,
            email=service.email,
            url=service.url,
            minimum_age=service.minimum_age,
            maximum_age=service.maximum_age,
            service_areas=tuple(areas),
        )
    )


def _said(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required, but missing"
    if kind == "literal_error":
        return f"{str(error['input'])[:40]!r} is not a status: {', '.join(STATUSES)}"
    return str(error["msg"])


def _path(where: str, loc: tuple[int | str, ...]) -> str:
    for part in loc:
        where = _join(where, f"[{part}]" if isinstance(part, int) else part)
    return where


def _join(where: str, name: str) -> str:
    if not where or where.endswith(" "):  # the document's root, or a prefix ("page 2: ")
        return where + name
    return f"{where}{name}" if name.startswith("[") else f"{where}.{name}"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
