from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from triage.db import Base


class Alert(Base):
    """Something a sweep raised for the triage unit; `key` makes each alert raise once."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "ix_alerts_open",
            "raised_at",
            sqlite_where=text("acknowledged_at IS NULL"),
            postgresql_where=text("acknowledged_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    referral_id: Mapped[UUID | None] = mapped_column(ForeignKey("referrals.id"))
    raised_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    detail: Mapped[dict[str, Any]]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
