"""Every query of the notification outbox."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from triage.db import table_of, write
from triage.notifications.models import OutboxMessage


def add_messages(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    write(session, _INSERT, list(rows))


_INSERT = insert(table_of(OutboxMessage))


def claim_due_messages(session: Session, *, now: datetime, limit: int) -> list[OutboxMessage]:
    """Unsent messages due by `now`, oldest due first, that no other dispatcher holds (each
    locked until the transaction ends); a message failed for good is never due."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.failed_at.is_(None),
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
