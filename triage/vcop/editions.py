"""Editions of the Victims' Code, loaded from `routing_rules/vcop/<edition>.toml`.

A referral is judged by the edition in force on the day the crime was reported, or on the
day the referral was received when the crime was not reported.
"""

import tomllib
from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from triage.lifecycle.codes import CrimeType


class ConsentRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    explicit_for_crime_types: frozenset[CrimeType]
    explicit_when_bereaved: bool


class Edition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    edition: str
    version: str
    title: str
    in_force_from: date
    consent: ConsentRules

    def needs_explicit_consent(self, crime_type: str, *, bereaved: bool) -> bool:
        """Whether sharing with a provider waits for the victim's explicit consent."""
        if bereaved and self.consent.explicit_when_bereaved:
            return True
        return crime_type in self.consent.explicit_for_crime_types


@lru_cache
def load_editions(vcop_dir: Path) -> tuple[Edition, ...]:
    """Every edition in `vcop_dir`, oldest first."""
    editions = [
        Edition.model_validate(tomllib.loads(path.read_text()))
        for path in sorted(vcop_dir.glob("*.toml"))
    ]
    if not editions:
        raise FileNotFoundError(f"no Victims' Code edition in {vcop_dir}")
    return tuple(sorted(editions, key=lambda e: e.in_force_from))


def edition_in_force(editions: tuple[Edition, ...], on: date) -> Edition:
    """The edition in force on `on`; the oldest one for any earlier day."""
    in_force = [e for e in editions if e.in_force_from <= on]
    return in_force[-1] if in_force else editions[0]
