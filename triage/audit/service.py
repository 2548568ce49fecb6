"""The append-only audit log. Writers add a row in the caller's transaction; nothing updates."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from triage.audit.models import AuditEvent
from triage.auth.service import Caller


def record(
    session: Session,
    *,
    caller: Caller,
    action: str,
    now: datetime,
    referral_id: UUID | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    version: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit event to the current transaction (written at once, not on flush)."""
    session.execute(
        _INSERT,
        {
            "referral_id": referral_id,
            "at": now,
            "actor_id": caller.user_id,
            "actor_name": caller.username,
            "actor_role": caller.role.value,
            "action": action,
            "from_state": from_state,
            "to_state": to_state,
            "version": version,
            "detail": detail or {},
        },
    )


# A Core insert built once, its values passed as parameters: the cheapest way to append.
_INSERT = insert(AuditEvent.__table__)


def timeline(session: Session, *, referral_id: UUID) -> list[AuditEvent]:
    """Every audit event of one referral, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.referral_id == referral_id).order_by(AuditEvent.id)
        )
    )
