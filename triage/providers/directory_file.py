"""An import's plan applied to the text of `providers.toml`, and the areas map it reads.

The file is edited, never rewritten: an entry the import does not touch keeps every byte
(comments, layout, inline tables), a changed entry has only the lines of its changed fields
replaced, and new entries are added at the end. The edited text must load to exactly the
entries planned and pass every check of `triage rules check` before it replaces the file.
"""

import os
import re
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from triage.providers.directory_import import (
    AreaMatcher,
    Changed,
    ImportPlan,
    new_entry_lines,
    same_name,
    toml_value,
)
from triage.rule_sources import check_rule_set, load_directory

ENTRY = re.compile(r"^\s*\[\[\s*providers\s*\]\]\s*(#.*)?$")
TABLE = re.compile(r"^\s*\[")
# A changed field's line goes after the nearest of these that the entry has.
ORDER = ("code", "oruk_id", "name", "description", "email", "url", "services", "areas",
         "min_age", "max_age")  # fmt: skip
NEW_ENTRY_NOTE = (
    "# From the Open Referral UK directory (triage providers import-oruk). To review: services,\n"
    "# crime_types, contact_channels, respond_by_hours, notify_address, capacity and funding;\n"
    "# then set accepting = true and name it in a rule of routing.toml.\n"
)


class DirectoryFileError(ValueError):
    """An areas map or a `providers.toml` this command cannot use, in words."""


class AreaMap(BaseModel):
    """An areas map: `[areas]` with a directory's area name = a rule set's area code(s)."""

    model_config = ConfigDict(extra="forbid")

    areas: dict[str, str | list[str]]


def read_area_map(path: Path, *, areas: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The map at `path`, keyed by the name as compared (case and punctuation ignored)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        area_map = AreaMap.model_validate(data)
    except (OSError, UnicodeDecodeError) as error:
        raise DirectoryFileError(f"{path}: cannot be read ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise DirectoryFileError(f"{path}: not valid TOML: {error}") from None
    except ValidationError as error:
        where = ", ".join(".".join(map(str, e["loc"])) for e in error.errors())
        raise DirectoryFileError(
            f'{path}: expected [areas] with name = "area code" (or a list of codes); see {where}'
        ) from None
    mapped: dict[str, tuple[str, ...]] = {}
    for name, value in area_map.areas.items():
        codes = (value,) if isinstance(value, str) else tuple(value)
        unknown = [code for code in codes if code not in areas]
        if unknown or not codes:
            raise DirectoryFileError(
                f"{path}: areas.{name!r}: {unknown or 'no code'} not among the rule set's "
                f"areas ({', '.join(areas)})"
            )
        if same_name(name) in mapped:
            raise DirectoryFileError(f"{path}: areas.{name!r}: named twice (case ignored)")
        mapped[same_name(name)] = codes
    return mapped


@dataclass(frozen=True)
class Proposal:
    """A plan, and `providers.toml` as it is and as it would be."""

    plan: ImportPlan
    path: Path
    before: str
    after: str
    version: tuple[str, str | None]  # the file's version, and the one it is bumped to


def propose(plan: ImportPlan, *, folder: Path) -> Proposal:
    """The rule set's `providers.toml` with `plan` applied, checked as `triage rules check`
    would check it (RulesError names every problem; nothing is written)."""
    path = folder / "providers.toml"
    before = path.read_text(encoding="utf-8")
    directory = load_directory(path, before)
    version = (directory.version, bumped(directory.version))
    if not plan.changes_file:
        return Proposal(plan, path, before, before, (directory.version, directory.version))
    after = edited(before, plan, version[1])
    if load_directory(path, after).providers != plan.entries(directory):
        raise DirectoryFileError(f"{path}: the edit would not give the entries planned")
    check_rule_set(folder, after)
    return Proposal(plan, path, before, after, version)


def write(proposal: Proposal) -> None:
    """Replace the file with the proposal, at once (a reader never sees half of it)."""
    path = proposal.path
    if path.read_text(encoding="utf-8") != proposal.before:
        raise DirectoryFileError(f"{path}: changed while the import ran: run it again")
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".providers.", suffix=".toml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(proposal.after)
        os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def bumped(version: str) -> str | None:
    """The version after a change (`2026.11.1` -> `2026.11.2`), or None if it ends in no number."""
    found = re.fullmatch(r"(.*?)(\d+)", version)
    if not found:
        return None
    prefix, number = found.groups()
    return prefix + str(int(number) + 1).zfill(len(number))


def edited(text: str, plan: ImportPlan, version: str | None) -> str:
    """`text` with the plan's changed fields replaced and its new entries added."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    starts = [i for i, line in enumerate(lines) if ENTRY.match(line)]
    entries = tomllib.loads(text).get("providers", [])
    if len(starts) != len(entries):
        raise DirectoryFileError(
            "providers.toml must give each provider as a [[providers]] table to be edited"
        )
    index = {entry.get("code"): i for i, entry in enumerate(entries)}
    for changed in sorted(plan.changed, key=lambda c: index[c.entry.code], reverse=True):
        start = starts[index[changed.entry.code]]
        end = _own_lines_end(lines, start + 1)
        lines[start + 1 : end] = _changed_lines(lines[start + 1 : end], changed)
    if version is not None:
        top = _own_lines_end(lines, 0)
        lines[:top] = _set_field(lines[:top], "version", version)
    for added in plan.added:
        entry = "".join(f"{line}\n" for line in new_entry_lines(added.entry))
        lines.append(f"\n{NEW_ENTRY_NOTE}[[providers]]\n{entry}")
    return "".join(lines)


def _own_lines_end(lines: list[str], start: int) -> int:
    """Where a table's own keys end: at the next table header of any kind."""
    return next((j for j in range(start, len(lines)) if TABLE.match(lines[j])), len(lines))


def _segments(lines: list[str]) -> list[tuple[str | None, list[str]]]:
    """A table's lines as (key, its lines) pieces; comments and blank lines have no key."""
    pieces: list[tuple[str | None, list[str]]] = []
    j = 0
    while j < len(lines):
        if not lines[j].strip() or lines[j].lstrip().startswith("#"):
            pieces.append((None, [lines[j]]))
            j += 1
            continue
        for end in range(j + 1, len(lines) + 1):  # a value may span lines: up to where it parses
            try:
                parsed = tomllib.loads("".join(lines[j:end]))
            except tomllib.TOMLDecodeError:
                continue
            pieces.append((next(iter(parsed)), lines[j:end]))
            j = end
            break
        else:
            raise DirectoryFileError(f"providers.toml: cannot read the line {lines[j].strip()!r}")
    return pieces


def _changed_lines(lines: list[str], changed: Changed) -> list[str]:
    for change in changed.changes:
        lines = _set_field(lines, change.field, change.after)
    return lines


def _set_field(lines: list[str], key: str, value: object) -> list[str]:
    """The table's lines with `key` set to `value` (None: removed), its comment kept."""
    pieces = _segments(lines)
    keys = [piece_key for piece_key, _ in pieces]
    if key in keys:
        at = keys.index(key)
        if value is None:
            del pieces[at]
        else:
            comment = _trailing_comment("".join(pieces[at][1]))
            pieces[at] = (key, [f"{key} = {toml_value(value)}{comment}\n"])
    elif value is not None:
        earlier = ORDER[: ORDER.index(key)] if key in ORDER else ORDER
        anchors = [i for i, k in enumerate(keys) if k in earlier]
        at = anchors[-1] + 1 if anchors else 0
        pieces.insert(at, (key, [f"{key} = {toml_value(value)}\n"]))
    return [line for _, piece in pieces for line in piece]


def _trailing_comment(text: str) -> str:
    """The comment after a value (`max_age = 17  # CSE ends at 18`), or nothing."""
    last = text.rstrip("\n").rsplit("\n", 1)[-1]
    head = text[: len(text.rstrip("\n")) - len(last)]
    for i, char in enumerate(last):
        if char == "#":
            try:
                tomllib.loads(head + last[:i])
            except tomllib.TOMLDecodeError:
                continue
            return "  " + last[i:].strip()
    return ""


def area_matcher(
    areas: Sequence[str], *, unnamed: Sequence[str], area_map: Path | None
) -> AreaMatcher:
    """How a directory's area names become the rule set's codes: by name, or by the map."""
    unknown = [code for code in unnamed if code not in areas]
    if unknown:
        raise DirectoryFileError(
            f"--area {', '.join(unknown)}: not among the rule set's areas ({', '.join(areas)})"
        )
    mapped = read_area_map(area_map, areas=areas) if area_map is not None else {}
    return AreaMatcher(areas=tuple(areas), mapped=mapped, unnamed=tuple(unnamed))
