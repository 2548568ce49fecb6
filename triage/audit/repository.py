"""Every query of the audit log: append a line, read a referral's timeline, list who read or
changed what over a period (the access report)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, String, Uuid, column, func, insert, select, table
from sqlalchemy.orm import Session

from triage.audit.models import AuditEvent
from triage.db import table_of, write


def append(session: Session, values: dict[str, Any]) -> None:
    """Write one line now, in the caller's transaction (not on flush; in a `write_behind`
    block, at its end)."""
    write(session, _INSERT, values)


def append_many(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write several lines now, in one executemany (in a `write_behind` block, at its end)."""
    write(session, _INSERT, rows)


# A Core insert built once, its values passed as parameters: the cheapest way to append.
_INSERT = insert(table_of(AuditEvent))


def timeline(session: Session, referral_id: UUID) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.referral_id == referral_id).order_by(AuditEvent.id)
        )
    )


# The two columns the access report reads of referrals and users, described here, not
# imported: every domain writes to the audit log, so it imports none of them.
_REFERRALS = table("referrals", column("id", Uuid()), column("reference", String()))
_USERS = table("users", column("username", String()))

# when, who, role, action, referral id, reference
AccessRow = tuple[datetime, str, str, str, UUID | None, str | None]


def referral_by_reference(session: Session, reference: str) -> tuple[UUID, str] | None:
    """The (id, reference) of the referral with this VR- reference (any case), if any."""
    return _referral(session, _REFERRALS.c.reference == reference.upper())


def referral_by_id(session: Session, referral_id: UUID) -> tuple[UUID, str] | None:
    return _referral(session, _REFERRALS.c.id == referral_id)


def _referral(session: Session, where: ColumnElement[bool]) -> tuple[UUID, str] | None:
    row = session.execute(select(_REFERRALS.c.id, _REFERRALS.c.reference).where(where)).first()
    return None if row is None else (row[0], row[1])


def user_exists(session: Session, username: str) -> bool:
    found = session.scalar(select(_USERS.c.username).where(_USERS.c.username == username))
    return found is not None


def access_lines(
    session: Session,
    *,
    referral_id: UUID | None,
    username: str | None,
    since: datetime,
    before: datetime,
    limit: int,
    offset: int,
) -> tuple[list[AccessRow], int]:
    """One referral's or one user's lines from `since` up to `before`, oldest first, with the
    referral's reference: a page of them, and how many there are in all."""
    where: list[ColumnElement[bool]] = [AuditEvent.at >= since, AuditEvent.at < before]
    if referral_id is not None:
        where.append(AuditEvent.referral_id == referral_id)
    if username is not None:
        where.append(AuditEvent.actor_name == username)
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
    rows = session.execute(
        select(AuditEvent.at, AuditEvent.actor_name, AuditEvent.actor_role, AuditEvent.action,
               AuditEvent.referral_id, _REFERRALS.c.reference)
        .outerjoin(_REFERRALS, _REFERRALS.c.id == AuditEvent.referral_id)
        .where(*where)
        .order_by(AuditEvent.at, AuditEvent.id)
        .limit(limit)
        .offset(offset)
    ).all()  # fmt: skip
    return [(at, name, role, action, found, reference)
            for at, name, role, action, found, reference in rows], total  # fmt: skip
