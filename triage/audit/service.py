"""The append-only audit log. Writers add a row in the caller's transaction; nothing updates.
Admins read it through the access report: who read or changed a referral, or what one user
read or changed, over a period."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from uuid import UUID

from sqlalchemy.orm import Session

from triage.audit import repository
from triage.audit.models import AuditEvent
from triage.audit.schemas import AccessLine, AccessQuery, ReferralAccess, UserAccess
from triage.caller import Caller, require_role
from triage.errors import InvalidInput, NotFound
from triage.lifecycle.codes import Role

# The access report's default period: 30 days, today included.
DEFAULT_DAYS = 30
# Reads whose action does not start with "read" (the rest of the reads' do).
OTHER_READS = frozenset({"subject_access", "access_report"})


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


def access_report(
    session: Session,
    *,
    caller: Caller,
    query: AccessQuery,
    limit: int,
    offset: int,
    now: datetime,
) -> ReferralAccess | UserAccess:
    """Who read or changed one referral, or what one user read or changed, over the period:
    the audit lines oldest first, never their detail. Locked-down referrals included (the
    report names no victim). The report is itself audited.

    Raises InvalidInput for both or neither of referral and user, an id that is not one, or
    `from` after `to`; NotFound for a referral or user there is none of."""
    require_role(caller, frozenset({Role.admin}))
    referral = _subject(session, query)
    referral_id = referral[0] if referral else None
    start, end = access_period(query, today=now.astimezone(UTC).date())
    rows, total = repository.access_lines(
        session,
        referral_id=referral_id,
        username=query.user,
        since=datetime.combine(start, time.min, UTC),
        before=datetime.combine(end + timedelta(days=1), time.min, UTC),
        limit=limit,
        offset=offset,
    )
    detail = {"user": query.user, "from": start.isoformat(), "to": end.isoformat()}
    record(session, caller=caller, action="access_report", now=now, referral_id=referral_id,
           detail=detail)  # fmt: skip
    items = [AccessLine(at=at, user=name, role=role, action=action, kind=kind_of(action),
                        referral=found, reference=reference)
             for at, name, role, action, found, reference in rows]  # fmt: skip
    page = {"from": start, "to": end, "items": items, "total": total, "limit": limit,
            "offset": offset}  # fmt: skip
    if referral is not None:
        return ReferralAccess.model_validate({**page, "referral": referral_id,
                                              "reference": referral[1]})  # fmt: skip
    return UserAccess.model_validate({**page, "user": query.user})


def access_period(query: AccessQuery, *, today: date) -> tuple[date, date]:
    """`from` and `to`, both inclusive: by default the 30 days up to `to`, and `to` today."""
    end = query.end or today
    start = query.start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InvalidInput("from must not be after to", field=("query", "from"))
    return start, end


def kind_of(action: str) -> Literal["read", "change"]:
    """Whether an audited action read a referral or changed something."""
    return "read" if action.startswith("read") or action in OTHER_READS else "change"


def _subject(session: Session, query: AccessQuery) -> tuple[UUID, str] | None:
    """The referral asked about (id, reference), or None when a user is (who must exist)."""
    if (query.referral is None) == (query.user is None):
        both = query.referral is not None
        raise InvalidInput(
            "give a referral (its id or VR- reference) or a user" + (", not both" if both else ""),
            field=("query", "user" if both else "referral"),
        )
    if query.user is not None:
        if not repository.user_exists(session, query.user):
            raise NotFound(f"no user {query.user}")
        return None
    key = query.referral or ""
    if key.upper().startswith("VR-"):
        found = repository.referral_by_reference(session, key)
    else:
        try:
            referral_id = UUID(key)
        except ValueError:
            raise InvalidInput(
                "must be a referral's id or its VR- reference", field=("query", "referral")
            ) from None
        found = repository.referral_by_id(session, referral_id)
    if found is None:
        raise NotFound(f"no referral {key}")
    return found
