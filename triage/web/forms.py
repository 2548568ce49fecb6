"""Forms into the API's own models: a form's fields are named by the model's path
("victim.full_name"), so a page posts into the same pydantic model as the API, and the
model's errors become the GOV.UK error summary and the message beside each field."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from triage.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a form: which field (its path and element id) and what to do."""

    field: str
    message: str
    anchor: str | None = None  # the element to link to, when not the field's own id

    @property
    def id(self) -> str:
        return self.anchor or field_id(self.field)


@dataclass(frozen=True)
class Field:
    """What to tell the user about a field (pydantic's own words are for programmers): when
    it is empty, and when what was entered is not right."""

    missing: str
    invalid: str


def field_id(path: str) -> str:
    """An element id for a field path: victim.full_name -> victim-full_name."""
    return path.replace(".", "-")


def values(
    form: FormData, *, lists: Iterable[str] = (), skip: Iterable[str] = ()
) -> dict[str, Any]:
    """The form's fields as the nested dict a model validates; blank fields are left out
    (so a model's default applies) and `lists` are taken from every value sent."""
    many = set(lists)
    ignored = {"csrf_token", *skip}
    nested: dict[str, Any] = {}
    for name in dict.fromkeys(form.keys()):
        if name in ignored:
            continue
        if name in many:
            value: Any = [v for v in form.getlist(name) if isinstance(v, str) and v != ""]
        else:
            raw = form.get(name)
            if not isinstance(raw, str) or raw.strip() == "":
                continue
            value = raw.strip()
        _put(nested, name.split("."), value)
    for name in many:  # a list with nothing ticked is an answer: empty
        if name not in form:
            _put(nested, name.split("."), [])
    return nested


def _put(target: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def parse(
    model: type[M], data: Mapping[str, Any], fields: Mapping[str, Field]
) -> tuple[M | None, list[Problem]]:
    """The model, or the problems with the data, each on the field it concerns."""
    try:
        return model.model_validate(dict(data)), []
    except ValidationError as error:
        return None, problems(error.errors(include_url=False), fields)


def problems(errors: Iterable[Mapping[str, Any]], fields: Mapping[str, Field]) -> list[Problem]:
    """pydantic's errors in the words of `fields` (one problem per field, first first)."""
    found: dict[str, Problem] = {}
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]
        path = ".".join(part for part in loc if part != "body")
        spec = _field_for(path, fields)
        if spec is None:
            message = str(error.get("msg", "this is not right"))
            found.setdefault(path, Problem(path or "form", message))
            continue
        name, field = spec
        message = field.missing if error.get("type") == "missing" else field.invalid
        found.setdefault(name, Problem(name, message))
    return list(found.values())


def _field_for(path: str, fields: Mapping[str, Field]) -> tuple[str, Field] | None:
    """The field a location belongs to (the longest named path it starts with)."""
    while path:
        if path in fields:
            return path, fields[path]
        path = path.rpartition(".")[0]
    return None


def from_invalid_input(error: InvalidInput, fields: Mapping[str, Field]) -> list[Problem]:
    """A service's 422 (a value that names nothing known) on the field it names."""
    path = ".".join(str(part) for part in error.field if part != "body")
    return [Problem(path, error.message[:1].upper() + error.message[1:])]


def errors_by_field(found: Iterable[Problem]) -> dict[str, str]:
    return {problem.field: problem.message for problem in found}
