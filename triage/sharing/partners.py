"""The partner agencies a sharing export may go to, as data: `routing_rules/partners.toml`.

    version = "2026.12.1"

    [[partners]]
    code = "ecins-derbyshire"
    name = "Derbyshire community safety partnership (E-CINS)"
    areas = ["derby_city", "derbyshire_county"]   # the rule set's area codes
    purposes = ["safeguarding", "case_coordination"]
    crime_types = ["domestic_abuse"]              # optional: only these (left out: all)

The models are pure; `load_partners` reads the file (with `read_model`, so every problem
names the file and field) and checks each area against the rule set's.
"""

from collections.abc import Collection
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from triage.errors import InvalidInput
from triage.lifecycle.codes import CrimeType
from triage.rule_sources import RulesError, read_model

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,49}$")]


PARTNERS_FILE = "partners.toml"  # beside the rule sets and retention.toml in routing_rules/


class Partner(BaseModel):
    """One partner agency: what it may see (areas, crime types) and why (purposes)."""

    model_config = ConfigDict(extra="forbid")

    code: Code
    name: str = Field(min_length=1, max_length=200)
    areas: list[str] = Field(min_length=1, description="area codes of the rule set")
    purposes: list[Code] = Field(min_length=1, description="what the partner may use it for")
    crime_types: list[CrimeType] = Field([], description="only these crime types (empty: all)")

    @model_validator(mode="after")
    def _no_repeats(self) -> "Partner":
        for name, values in (("areas", self.areas), ("purposes", self.purposes),
                             ("crime_types", [str(c) for c in self.crime_types])):  # fmt: skip
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"{name} names {', '.join(repeated)} more than once")
        return self

    def purpose_for(self, asked: str | None) -> str:
        """The purpose an export is for: the one asked, which must be the partner's, or the
        partner's only purpose; InvalidInput otherwise."""
        if asked is None and len(self.purposes) == 1:
            return self.purposes[0]
        if asked in self.purposes:
            return asked
        known = ", ".join(self.purposes)
        if asked is None:
            message = f"partner {self.code!r} has several purposes: give one of {known}"
        else:
            message = f"partner {self.code!r} has no purpose {asked!r}: its purposes are {known}"
        raise InvalidInput(message, field=("purpose",), value=asked)


class PartnersFile(BaseModel):
    """The whole `partners.toml`."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=50)
    partners: list[Partner] = []

    @model_validator(mode="after")
    def _distinct_codes(self) -> "PartnersFile":
        codes = [p.code for p in self.partners]
        repeated = sorted({c for c in codes if codes.count(c) > 1})
        if repeated:
            raise ValueError(f"partner codes must be distinct: {', '.join(repeated)} repeated")
        return self

    def partner(self, code: str) -> Partner:
        """The partner with this code; InvalidInput naming the known codes otherwise."""
        for partner in self.partners:
            if partner.code == code:
                return partner
        known = ", ".join(p.code for p in self.partners) or "none"
        raise InvalidInput(
            f"unknown partner {code!r}: the known partners are {known}",
            field=("partner",),
            value=code,
        )


def load_partners(path: Path, *, areas: Collection[str]) -> PartnersFile:
    """`partners.toml` validated, each partner's areas among `areas` (the rule set's);
    RulesError lists every problem, each naming the file, the partner and the field."""
    partners = read_model(PartnersFile, path)
    known = ", ".join(sorted(areas))
    problems = [
        f"{path}: partner {partner.code!r} field areas: unknown area {area!r} "
        f"(the rule set's areas are {known})"
        for partner in partners.partners
        for area in partner.areas
        if area not in areas
    ]
    if problems:
        raise RulesError(problems)
    return partners
