"""Every query of the audit log: append a line, read a referral's timeline."""

from typing import Any
from uuid import UUID

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from triage.audit.models import AuditEvent
from triage.db import table_of


def append(session: Session, values: dict[str, Any]) -> None:
    """Write one line now, in the caller's transaction (not on flush)."""
    session.execute(_INSERT, values)


def append_many(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write several lines now, in one executemany."""
    session.execute(_INSERT, rows)


# A Core insert built once, its values passed as parameters: the cheapest way to append.
_INSERT = insert(table_of(AuditEvent))


def timeline(session: Session, referral_id: UUID) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.referral_id == referral_id).order_by(AuditEvent.id)
        )
    )
