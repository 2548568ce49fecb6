"""The append-only audit log. Writers add a row in the caller's transaction; nothing updates."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from triage.audit import repository
from triage.audit.models import AuditEvent
from triage.caller import Caller


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
    repository.append(
        session,
        line(caller=caller, action=action, now=now, referral_id=referral_id,
             from_state=from_state, to_state=to_state, version=version, detail=detail),
    )  # fmt: skip


def line(
    *,
    caller: Caller,
    action: str,
    now: datetime,
    referral_id: UUID | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    version: int | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One audit event's row, to write with `record_many` (or a bulk import's COPY)."""
    return {
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
    }


def record_many(session: Session, lines: list[dict[str, Any]]) -> None:
    """Append audit events made by `line`, in one statement."""
    if lines:
        repository.append_many(session, lines)


def record_reads(
    session: Session,
    *,
    caller: Caller,
    action: str,
    now: datetime,
    shown: list[tuple[UUID, int]],
) -> None:
    """One audit event per referral shown to the caller (id, version), in one statement: a
    list that shows names is a read of each referral on it."""
    if not shown:
        return
    who = {"actor_id": caller.user_id, "actor_name": caller.username,
           "actor_role": caller.role.value}  # fmt: skip
    repository.append_many(
        session,
        [
            {
                "referral_id": referral_id,
                "at": now,
                **who,
                "action": action,
                "from_state": None,
                "to_state": None,
                "version": version,
                "detail": {},
            }
            for referral_id, version in shown
        ],  # fmt: skip
    )


def timeline(session: Session, *, referral_id: UUID) -> list[AuditEvent]:
    """Every audit event of one referral, oldest first."""
    return repository.timeline(session, referral_id)
