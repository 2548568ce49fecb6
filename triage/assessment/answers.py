"""A needs assessment's answers as one plain value (pure).

Stored rows, request bodies and the demo's simulated assessments all become `Answers`, so
what routing and the Victims' Code read from an assessment, and what the audit log keeps of
it, is worked out in one place.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from triage.lifecycle.codes import VULNERABILITY_FLAGS


@dataclass(frozen=True, slots=True)
class Answers:
    needs: tuple[str, ...]
    dash_score: int | None
    professional_judgement: str | None
    risk_level: str | None
    vulnerability: Mapping[str, bool]  # every flag of VULNERABILITY_FLAGS, in that order
    consent_to_share: bool | None
    consent_method: str | None
    restorative_justice_interest: bool
    care_leaver: bool

    @property
    def flags_set(self) -> frozenset[str]:
        """The vulnerability flags answered yes."""
        return frozenset(flag for flag in VULNERABILITY_FLAGS if self.vulnerability.get(flag))

    def flag(self, name: str) -> bool:
        return bool(self.vulnerability.get(name))

    def snapshot(self) -> dict[str, Any]:
        """The answers as plain data, as the audit log keeps them (before and after)."""
        return {
            "needs": list(self.needs),
            "dash_score": self.dash_score,
            "professional_judgement": self.professional_judgement,
            "risk_level": self.risk_level,
            "vulnerability": {flag: self.vulnerability[flag] for flag in VULNERABILITY_FLAGS},
            "consent_to_share": self.consent_to_share,
            "consent_method": self.consent_method,
            "restorative_justice_interest": self.restorative_justice_interest,
            "care_leaver": self.care_leaver,
        }
