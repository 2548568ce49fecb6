"""The rule data the service runs on, read from `routing_rules/` once.

`RuleSources` holds an area's rule set (routing rules and provider directory, compiled for
deciding) and the Victims' Code editions, with the paths they came from. The app and each
command build one at start-up from the settings and pass it to the services that need it;
it is read again only by a restart or a new command (`triage rules load`), never per request.

Each file has one loader here, and every problem is a `RulesError` whose lines name the file,
the entry (rule, provider or right) and the field.
"""

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from triage.config import Settings
from triage.retention import RetentionRules
from triage.routing.check import CheckReport
from triage.routing.check import check_rule_set as find_problems
from triage.routing.engine import Engine
from triage.routing.rules import ProviderDirectory, RoutingFile, RuleSet
from triage.vcop.editions import Edition, edition_in_force

M = TypeVar("M", bound=BaseModel)
# The key that names an entry of each list, in problems ("rule 'da-idva' field ...").
ENTRY_NAMES = {
    "rules": ("rule", "id"),
    "providers": ("provider", "code"),
    "rights": ("right", "id"),
    "periods": ("period", "id"),
    "partners": ("partner", "code"),
}


class RulesError(ValueError):
    """Rule files that do not load or do not pass the checks; a line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class RulePaths:
    """Where an area's rule set and the Victims' Code editions are."""

    rule_set: Path
    editions: Path

    @property
    def routing(self) -> Path:
        return self.rule_set / "routing.toml"

    @property
    def directory(self) -> Path:
        return self.rule_set / "providers.toml"

    @property
    def retention(self) -> Path:
        """Retention periods serve every rule set: beside the editions' folder."""
        return self.editions.parent / "retention.toml"

    @classmethod
    def of(cls, settings: Settings, rule_set: Path | None = None) -> "RulePaths":
        """The paths the settings name; `rule_set` another rule set folder instead."""
        rules_dir = Path(settings.rules_dir)
        return cls(rule_set or rules_dir / settings.rule_set, rules_dir / "vcop")


def read_model(model: type[M], path: Path, text: str | None = None) -> M:
    """One rule file, validated against its model; `text` the file's text as it would be."""
    try:
        data = tomllib.loads(path.read_text() if text is None else text)
    except FileNotFoundError:
        raise RulesError([f"{path}: missing"]) from None
    except tomllib.TOMLDecodeError as error:
        raise RulesError([f"{path}: not valid TOML: {error}"]) from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise RulesError([_problem(path, data, e) for e in error.errors()]) from None


def _problem(path: Path, data: Mapping[str, Any], error: Mapping[str, Any]) -> str:
    loc = list(error["loc"])
    where = ".".join(str(p) for p in loc)
    if len(loc) >= 2 and loc[0] in ENTRY_NAMES and isinstance(loc[1], int):
        label, key = ENTRY_NAMES[loc[0]]
        entries = data.get(loc[0], [])
        name = entries[loc[1]].get(key, f"#{loc[1] + 1}") if loc[1] < len(entries) else "?"
        field = ".".join(str(p) for p in loc[2:]) or "(entry)"
        where = f"{label} {name!r} field {field}"
    return f"{path}: {where}: {error['msg']}"


def load_routing(path: Path) -> RoutingFile:
    return read_model(RoutingFile, path)


def load_directory(path: Path, text: str | None = None) -> ProviderDirectory:
    return read_model(ProviderDirectory, path, text)


def load_editions(folder: Path) -> tuple[Edition, ...]:
    """Every edition in `folder`, oldest first."""
    editions = [read_model(Edition, path) for path in sorted(folder.glob("*.toml"))]
    if not editions:
        raise RulesError([f"{folder}: no Victims' Code edition (*.toml) found"])
    return tuple(sorted(editions, key=lambda e: e.in_force_from))


def load_retention(path: Path) -> RetentionRules:
    return read_model(RetentionRules, path)


def load_rule_set(folder: Path, directory_text: str | None = None) -> RuleSet:
    """A rule set's `routing.toml` and `providers.toml`, validated (shape only);
    `directory_text` a proposed `providers.toml` in place of the file's."""
    routing_path, directory_path = folder / "routing.toml", folder / "providers.toml"
    routing = load_routing(routing_path)
    directory = load_directory(directory_path, directory_text)
    digest = hashlib.sha256()
    for path in (routing_path, directory_path):
        content = path.read_bytes()
        if path == directory_path and directory_text is not None:
            content = directory_text.encode()
        digest.update(path.name.encode() + b"\0" + content + b"\0")
    return RuleSet(
        name=routing.rule_set,
        version=f"{routing.rule_set}@{routing.version}+providers@{directory.version}",
        hash=digest.hexdigest()[:16],
        routing=routing,
        directory=directory,
        routing_path=routing_path,
        directory_path=directory_path,
    )


def check_rule_set(folder: Path, directory_text: str | None = None) -> CheckReport:
    """Load a rule set and run every check of `triage rules check`; RulesError lists every
    problem found. `directory_text`: check a proposed `providers.toml` before it is written."""
    report = find_problems(load_rule_set(folder, directory_text))
    if report.problems:
        raise RulesError(report.problems)
    return report


@dataclass(frozen=True)
class RuleSources:
    """An area's rules as loaded once: the rule set, its engine, the Code's editions."""

    paths: RulePaths
    rule_set: RuleSet
    engine: Engine
    editions: tuple[Edition, ...]
    retention: RetentionRules

    @classmethod
    def load(cls, paths: RulePaths, rule_set: RuleSet | None = None) -> "RuleSources":
        """The rules at `paths`; `rule_set` one already loaded from them (and checked)."""
        rule_set = rule_set or load_rule_set(paths.rule_set)
        editions = load_editions(paths.editions)
        return cls(paths, rule_set, Engine(rule_set), editions, load_retention(paths.retention))

    @classmethod
    def from_settings(cls, settings: Settings) -> "RuleSources":
        return cls.load(RulePaths.of(settings))

    @cached_property
    def areas(self) -> frozenset[str]:
        """The areas the rule set serves (asked on every intake: made once)."""
        return frozenset(self.rule_set.directory.areas)

    def edition_on(self, day: date) -> Edition:
        """The Victims' Code edition in force on `day`."""
        return edition_in_force(self.editions, day)
