from datetime import datetime
from uuid import UUID

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from triage.db import Base


class OutboxMessage(Base):
    """A message written in the transaction of its cause, delivered later by the dispatcher.

    `id` is the message's stable identity (the SMTP Message-ID), so a resend after a crash
    between sending and marking is recognisable as the same message. No victim's name or
    contact details are ever put in a message: only the referral's reference and a link.

    A message is waiting (`sent_at` and `failed_at` empty), sent, or failed for good
    (`failed_at`, with the delivery system's reason in `last_error`); a failure that may pass
    only counts an attempt and backs off (`next_attempt_at`).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_unsent",
            "next_attempt_at",
            sqlite_where=text("sent_at IS NULL"),
            postgresql_where=text("sent_at IS NULL"),
        ),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    referral_id: Mapped[UUID | None] = mapped_column(ForeignKey("referrals.id"))
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int]
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
