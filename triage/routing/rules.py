"""The routing rule files (`routing_rules/<rule set>/routing.toml`) as pydantic models."""

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from triage.lifecycle.codes import VULNERABILITY_FLAGS, CrimeType, HateStrand, Need
from triage.providers.schemas import ProviderDirectory

RISK_CONDITIONS = ("standard", "medium", "high", "none")
Age = Annotated[int, Field(ge=0, le=120)]


class Rule(BaseModel):
    """One `[[rules]]` entry: conditions that must all hold, and the providers offered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    priority: Annotated[int, Field(ge=0)]
    why: Annotated[str, Field(min_length=1)]
    providers: Annotated[list[str], Field(min_length=1)]
    crime_types: list[CrimeType] | None = None
    hate_strands: list[HateStrand] | None = None
    min_age: Age | None = None
    max_age: Age | None = None
    care_leaver: bool | None = None
    areas: list[str] | None = None
    risk_levels: list[str] | None = None
    vulnerability: list[str] | None = None
    restorative_justice_interest: bool | None = None
    needs: list[Need] | None = None

    @model_validator(mode="after")
    def _known_values(self) -> "Rule":
        for name, value, known in (
            ("risk_levels", self.risk_levels, RISK_CONDITIONS),
            ("vulnerability", self.vulnerability, VULNERABILITY_FLAGS),
        ):
            unknown = sorted(set(value or ()) - set(known))
            if unknown:
                raise ValueError(f"{name}: unknown value(s) {unknown}; known: {list(known)}")
        return self


class RoutingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    rule_set: str
    areas: Annotated[list[str], Field(min_length=1)]
    fallback: str | None = None
    rules: list[Rule]


class RulesError(ValueError):
    """Rule files that do not load; each line names file, rule and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class RuleSet:
    """A rule set as loaded: its directory, routing rules and provider directory."""

    name: str
    version: str
    hash: str
    routing: RoutingFile
    directory: ProviderDirectory


def _validated(model: type[BaseModel], path: Path, label: str) -> BaseModel:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise RulesError([f"{path}: missing"]) from None
    except tomllib.TOMLDecodeError as error:
        raise RulesError([f"{path}: not valid TOML: {error}"]) from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise RulesError([_problem(path, label, data, e) for e in error.errors()]) from None


def _problem(path: Path, label: str, data: dict, error: dict) -> str:  # type: ignore[type-arg]
    loc = list(error["loc"])
    where = ".".join(str(p) for p in loc)
    if len(loc) >= 2 and loc[0] in ("rules", "providers") and isinstance(loc[1], int):
        entries = data.get(loc[0], [])
        key = "id" if loc[0] == "rules" else "code"
        name = entries[loc[1]].get(key, f"#{loc[1] + 1}") if loc[1] < len(entries) else "?"
        field = ".".join(str(p) for p in loc[2:]) or "(entry)"
        where = f"{label} {name!r} field {field}"
    return f"{path}: {where}: {error['msg']}"


def load_rule_set(directory: Path) -> RuleSet:
    """Load and validate a rule set's `routing.toml` and `providers.toml` (shape only)."""
    routing_path, providers_path = directory / "routing.toml", directory / "providers.toml"
    routing = _validated(RoutingFile, routing_path, "rule")
    providers = _validated(ProviderDirectory, providers_path, "provider")
    assert isinstance(routing, RoutingFile) and isinstance(providers, ProviderDirectory)
    digest = hashlib.sha256()
    for path in (routing_path, providers_path):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return RuleSet(
        name=routing.rule_set,
        version=f"{routing.rule_set}@{routing.version}+providers@{providers.version}",
        hash=digest.hexdigest()[:16],
        routing=routing,
        directory=providers,
    )
