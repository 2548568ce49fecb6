"""What a listing read from an Open Referral UK directory would change in a rule set's
`providers.toml` (pure: data in, a plan out).

Each active service maps to a `DirectoryEntry`, validated by the same model as the file and
the API, and is matched to the file's entries by `oruk_id`. The directory owns the fields it
publishes (`ORUK_FIELDS`); everything else is the admin's: a re-import never touches it. A
new entry gets a code made from the service's name (kept thereafter: the entry is found by
`oruk_id`, never by code) and placeholders that route nothing until an admin has reviewed it.
"""

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from triage.providers.listing import ListedService, Listing
from triage.routing.rules import DirectoryEntry, ProviderDirectory

# The fields an import sets, in the order a new entry is written.
ORUK_FIELDS = ("name", "description", "email", "url", "areas", "min_age", "max_age")
# Where each field of an entry comes from in an HSDS service, to name it in a problem.
SOURCE_FIELDS = {
    "oruk_id": "id",
    "name": "name",
    "description": "description",
    "email": "email",
    "url": "url",
    "areas": "service_areas",
    "min_age": "minimum_age",
    "max_age": "maximum_age",
}
# What a new entry starts with where the directory says nothing. `accepting = false` keeps it
# out of every offer, by rule or by hand, until an admin has reviewed it.
PLACEHOLDERS: Mapping[str, Any] = {
    "services": ["general"],
    "respond_by_hours": 48,
    "accepting": False,
}
TO_FILL_IN = (
    "services (placed: general)",
    "crime_types",
    "hate_strands",
    "contact_channels",
    "respond_by_hours (placed: 48)",
    "notify_address",
    "capacity",
    "funding",
)
CODE_LENGTH = 40  # a made code's length at most, before any "-2" that keeps it unique


def fold(text: str) -> list[str]:
    """The words of a name, lower case, accents and punctuation dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return re.findall(r"[a-z0-9]+", plain)


def same_name(text: str) -> str:
    """A name as compared: case, accents, punctuation and spacing ignored."""
    return " ".join(fold(text))


@dataclass(frozen=True)
class AreaMatcher:
    """A directory's area names to the rule set's area codes."""

    areas: tuple[str, ...]  # the rule set's area codes, in its order
    mapped: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # same_name -> codes
    unnamed: tuple[str, ...] = ()  # the areas of a service that names none (`--area`)

    def match(self, names: Sequence[str]) -> tuple[list[str], list[str]]:
        """The codes `names` stand for (in the rule set's order), and the names that match none."""
        if not names:
            return [a for a in self.areas if a in self.unnamed], []
        by_name = {same_name(code): code for code in self.areas}
        codes: set[str] = set()
        unmatched = []
        for name in names:
            key = same_name(name)
            found = self.mapped.get(key) or ((by_name[key],) if key in by_name else ())
            codes.update(found)
            if not found:
                unmatched.append(name)
        return [a for a in self.areas if a in codes], unmatched


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: object
    after: object


@dataclass(frozen=True)
class Added:
    entry: DirectoryEntry
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Changed:
    entry: DirectoryEntry  # as it will be
    changes: tuple[FieldChange, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    where: str  # the service's JSON path in the source
    label: str  # its id and name, as far as they are known
    reason: str


@dataclass
class ImportPlan:
    """Every service of a listing, as added, changed, unchanged or skipped (with the reason)."""

    listing: Listing
    added: list[Added] = field(default_factory=list)
    changed: list[Changed] = field(default_factory=list)
    unchanged: list[DirectoryEntry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    not_listed: list[DirectoryEntry] = field(default_factory=list)

    @property
    def changes_file(self) -> bool:
        return bool(self.added or self.changed)

    def entries(self, directory: ProviderDirectory) -> list[DirectoryEntry]:
        """The file's entries after the plan: changed ones in place, added ones at the end."""
        changed = {c.entry.code: c.entry for c in self.changed}
        kept = [changed.get(entry.code, entry) for entry in directory.providers]
        return kept + [a.entry for a in self.added]


def plan_import(
    *, listing: Listing, directory: ProviderDirectory, areas: AreaMatcher
) -> ImportPlan:
    """What `listing` would change in `directory`; nothing is written."""
    plan = ImportPlan(listing=listing)
    linked = {e.oruk_id: e for e in directory.providers if e.oruk_id is not None}
    unlinked = {same_name(e.name): e.code for e in directory.providers if e.oruk_id is None}
    codes = {e.code for e in directory.providers}
    first_seen: dict[str, str] = {}
    for service in listing.services:
        existing = linked.get(service.service_id)
        reason = _listed_again(service, first_seen) or _not_taken(
            service, existing, areas, unlinked
        )
        first_seen.setdefault(service.service_id, service.where)
        if reason is None:
            reason = _plan_service(plan, service, existing, areas, codes)
        if reason is not None:
            plan.skipped.append(
                Skipped(service.where, _label(service.service_id, service.name), reason)
            )
    plan.skipped += [
        Skipped(p.where, _label(p.service_id, p.name), p.reason) for p in listing.problems
    ]
    plan.skipped.sort(key=lambda s: _in_order(s.where))
    plan.not_listed = [
        e for e in directory.providers if e.oruk_id is not None and e.oruk_id not in first_seen
    ]
    return plan


def _listed_again(service: ListedService, first_seen: Mapping[str, str]) -> str | None:
    if service.service_id not in first_seen:
        return None
    return f"listed again (first at {first_seen[service.service_id] or 'the document'}): read once"


def _plan_service(
    plan: ImportPlan,
    service: ListedService,
    existing: DirectoryEntry | None,
    areas: AreaMatcher,
    codes: set[str],
) -> str | None:
    """Add the service to the plan as added, changed or unchanged; or say what is wrong."""
    served, unmatched = areas.match(service.service_areas)
    notes = tuple(
        f"service area {name!r} is not an area of this rule set: left out (--areas-map)"
        for name in unmatched
    )
    values = _values(service, served)
    if existing is None:
        code = make_code(service.name, service.service_id, taken=codes)
        entry, problem = _validated(service, {**PLACEHOLDERS, **values, "code": code})
        if entry is not None:
            codes.add(code)
            plan.added.append(Added(entry, notes))
        return problem
    if set(existing.areas) == set(served):
        values["areas"] = existing.areas  # the same areas, in the order the admin wrote them
    entry, problem = _validated(service, {**existing.model_dump(), **values})
    if entry is not None:
        changes = tuple(
            FieldChange(name, getattr(existing, name), getattr(entry, name))
            for name in ORUK_FIELDS
            if getattr(existing, name) != getattr(entry, name)
        )
        if changes:
            plan.changed.append(Changed(entry, changes, notes))
        else:
            plan.unchanged.append(entry)
    return problem


def _not_taken(
    service: ListedService,
    existing: DirectoryEntry | None,
    areas: AreaMatcher,
    unlinked: Mapping[str, str],
) -> str | None:
    """Why a well-formed service is not imported, or None."""
    if service.status != "active":
        reason = f"status is {service.status!r}: only active services are imported"
        if existing is not None:
            reason += f"; provider {existing.code!r} is left as it is: review it"
        return reason
    served, _ = areas.match(service.service_areas)
    if not served:
        if service.service_areas:
            return (
                f"none of its service areas ({', '.join(service.service_areas)}) is an area of "
                f"this rule set ({', '.join(areas.areas)}): map them with --areas-map"
            )
        return "it names no service area: give --area for the areas it serves"
    if existing is None and (code := unlinked.get(same_name(service.name))):
        return (
            f"provider {code!r} has the same name and no oruk_id: add "
            f'oruk_id = "{service.service_id}" to it to link the two, then import again'
        )
    return None


def _values(service: ListedService, areas: list[str]) -> dict[str, Any]:
    """The entry's fields the directory gives. Ages are whole years: a fractional youngest
    age is rounded up and an oldest down, so no one outside the stated range is let in."""
    return {
        "oruk_id": service.service_id,
        "name": service.name,
        "description": _text(service.description),
        "email": _text(service.email),
        "url": _text(service.url),
        "areas": areas,
        "min_age": _whole(service.minimum_age, math.ceil),
        "max_age": _whole(service.maximum_age, math.floor),
    }


def _text(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _whole(age: float | None, rounding: Callable[[float], int]) -> int | float | None:
    if age is None or not math.isfinite(age):
        return age  # the model refuses what is not a finite number, naming the field
    return int(rounding(age))


def _validated(
    service: ListedService, data: Mapping[str, Any]
) -> tuple[DirectoryEntry | None, str | None]:
    """The entry through the file's model, or each problem named by its path in the source."""
    try:
        return DirectoryEntry.model_validate(data), None
    except ValidationError as error:
        problems = []
        for detail in error.errors(include_url=False):
            name = str(detail["loc"][0]) if detail["loc"] else "(service)"
            problems.append(f"{service.path(SOURCE_FIELDS.get(name, name))}: {detail['msg']}")
        return None, "; ".join(problems)


def make_code(name: str, service_id: str, *, taken: Iterable[str]) -> str:
    """A provider code from a service's name (`Harbour Lane Advocacy` -> `harbour-lane-advocacy`),
    made unique with `-2`, `-3`...; a name with too few letters takes one from the id."""
    words, base = fold(name), ""
    for word in words:
        longer = f"{base}-{word}" if base else word
        if len(longer) > CODE_LENGTH:
            break
        base = longer
    if len(base) < 2:
        base = "service-" + hashlib.sha256(service_id.encode()).hexdigest()[:8]
    taken = set(taken)
    code, number = base, 1
    while code in taken:
        number += 1
        code = f"{base}-{number}"
    return code


def _label(service_id: str | None, name: str | None) -> str:
    parts = [f"id {service_id}" if service_id else "", repr(name) if name else ""]
    return ", ".join(p for p in parts if p) or "no id or name"


def _in_order(where: str) -> list[Any]:
    """A JSON path's sort key, numbers as numbers (contents[2] before contents[10])."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", where)]


def toml_value(value: object) -> str:
    """A field's value as `providers.toml` writes it (TOML's basic strings take JSON's escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def new_entry_lines(entry: DirectoryEntry) -> list[str]:
    """The lines of a new entry's table, its fields in the order the file's entries use."""
    order = ("code", "oruk_id", *ORUK_FIELDS[:4], "services", *ORUK_FIELDS[4:], *PLACEHOLDERS)
    values = entry.model_dump(mode="json")
    written = dict.fromkeys(order)
    return [f"{key} = {toml_value(values[key])}" for key in written if values[key] is not None]


def describe(plan: ImportPlan, *, target: str) -> list[str]:
    """The plan as an admin reviews it: added, changed (field by field), unchanged, skipped."""
    listing = plan.listing
    pages = f" ({listing.pages} pages)" if listing.pages > 1 else ""
    read = len(listing.services) + len(listing.problems)
    lines = [
        f"Open Referral UK: {read} service(s) read from {listing.source}{pages}",
        f"into {target}: {len(plan.added)} added, {len(plan.changed)} changed, "
        f"{len(plan.unchanged)} unchanged, {len(plan.skipped)} skipped",
    ]
    notes = [*listing.notes]
    if plan.not_listed:
        codes = ", ".join(e.code for e in plan.not_listed)
        notes.append(
            f"providers from the directory that this source does not list: {codes} "
            "(left as they are)"
        )
    sections = [
        (
            "added (offered nothing until reviewed: accepting = false, and no rule names them;\n"
            f"to fill in by hand: {', '.join(TO_FILL_IN)}):",
            [line for added in plan.added for line in _added_lines(added)],
        ),
        ("changed:", [line for changed in plan.changed for line in _changed_lines(changed)]),
        ("unchanged:", [f"  = {e.code} (oruk_id {e.oruk_id})" for e in plan.unchanged]),
        (
            "skipped:",
            [f"  - {s.where or '(the document)'} ({s.label}): {s.reason}" for s in plan.skipped],
        ),
        ("notes:", [f"  {note}" for note in notes]),
    ]
    for title, body in sections:
        if body:
            lines += ["", *title.split("\n"), *body]
    return lines


def _added_lines(added: Added) -> list[str]:
    return [
        f"  + {added.entry.code}",
        *(f"      {line}" for line in new_entry_lines(added.entry)[1:]),
        *(f"      note: {note}" for note in added.notes),
    ]


def _changed_lines(changed: Changed) -> list[str]:
    return [
        f"  ~ {changed.entry.code} (oruk_id {changed.entry.oruk_id})",
        *(f"      {c.field}: {_shown(c.before)} -> {_shown(c.after)}" for c in changed.changes),
        *(f"      note: {note}" for note in changed.notes),
    ]


def _shown(value: object) -> str:
    return "(none)" if value is None else toml_value(value)
