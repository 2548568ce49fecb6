"""Shapes of the needs assessment and consent (DESIGN 4)."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from triage.lifecycle.codes import ConsentMethod, Need, RiskLevel


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Risk(Strict):
    dash_score: Annotated[int, Field(ge=0, le=24)] | None = None
    professional_judgement: RiskLevel | None = None


class Vulnerability(Strict):
    mental_disorder: bool
    impaired_intelligence: bool
    physical_disability: bool
    intimidated: bool
    persistently_targeted: bool
    bereaved: bool


class Consent(Strict):
    share_with_provider: bool
    method: ConsentMethod | None = None

    @model_validator(mode="after")
    def _consent_says_how(self) -> "Consent":
        if self.share_with_provider and self.method is None:
            raise ValueError("consent to share needs the method it was given by")
        return self


class AssessmentBody(Strict):
    """The assessment without its `version`: shared with routing previews (DESIGN 4)."""

    needs: list[Need]
    risk: Risk = Risk()
    vulnerability: Vulnerability
    consent: Consent | None = None
    restorative_justice_interest: bool = False
    care_leaver: bool = False


class AssessmentUpdate(AssessmentBody):
    version: Annotated[int, Field(ge=1)]


class ConsentUpdate(Consent):
    version: Annotated[int, Field(ge=1)]


class RiskRead(BaseModel):
    dash_score: int | None
    professional_judgement: str | None
    level: str | None


class ConsentRead(BaseModel):
    share_with_provider: bool | None
    method: str | None
    recorded_by: str | None
    recorded_at: datetime | None
    explicit_consent_needed: bool


class AssessmentRead(BaseModel):
    """The assessment; for a provider before acceptance only `needs` and `risk.level`."""

    needs: list[str]
    risk: RiskRead
    vulnerability: Vulnerability | None
    consent: ConsentRead | None
    restorative_justice_interest: bool | None
    care_leaver: bool | None
    complete: bool
    gaps: list[str]
    assessed_at: datetime | None
