from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from triage.db import Base


class EntitlementCheck(Base):
    """One line of the check log: a right evaluated, its outcome, evidence, by whom, when.

    The newest row of each right of a referral is `current`: its status and `due_at` are the
    right's state now, the column the deadline sweeps read. A new evaluation clears `current`
    on the rows it supersedes; rows are otherwise never changed.
    """

    __tablename__ = "entitlement_checks"
    __table_args__ = (
        Index("ix_entitlement_checks_referral_id_id", "referral_id", "id"),
        Index(
            "ix_entitlement_checks_current_due",
            "status",
            "due_at",
            sqlite_where=text("current"),
            postgresql_where=text("current"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[UUID] = mapped_column(ForeignKey("referrals.id"))
    right: Mapped[str] = mapped_column(String(20))
    edition: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime | None]
    met_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(40))
    trigger: Mapped[str] = mapped_column(String(40))
    evidence: Mapped[dict[str, Any]]
    checked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checked_at: Mapped[datetime]
    current: Mapped[bool]
