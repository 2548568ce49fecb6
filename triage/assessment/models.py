from datetime import datetime
from uuid import UUID

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from triage.db import Base


class Assessment(Base):
    """The current needs, risk, vulnerability and consent answers for one referral.

    Earlier answers are kept in the audit log (each change records before and after).
    """

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[UUID] = mapped_column(ForeignKey("referrals.id"), unique=True)
    needs: Mapped[list[str]]
    dash_score: Mapped[int | None]
    professional_judgement: Mapped[str | None] = mapped_column(String(10))
    risk_level: Mapped[str | None] = mapped_column(String(10))
    mental_disorder: Mapped[bool]
    impaired_intelligence: Mapped[bool]
    physical_disability: Mapped[bool]
    intimidated: Mapped[bool]
    persistently_targeted: Mapped[bool]
    bereaved: Mapped[bool]
    restorative_justice_interest: Mapped[bool]
    care_leaver: Mapped[bool]
    consent_to_share: Mapped[bool | None]
    consent_method: Mapped[str | None] = mapped_column(String(20))
    consent_recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    consent_recorded_at: Mapped[datetime | None]
    assessed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assessed_at: Mapped[datetime]
