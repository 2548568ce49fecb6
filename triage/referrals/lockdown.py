"""Locking a referral down to named users, and lifting it (DESIGN 11).

A locked-down referral is answered 404 to everyone else on every read path (the scope check
in `context.load`, the lists, the linked referrals, the alerts); reports still count it.
Locking and lifting are audited with the reason; nothing about the referral itself changes,
so its version does not move (the version sent is checked, as for any change)."""

from datetime import datetime
from uuid import UUID

from sqlalchemy.orm import Session

from triage.audit import service as audit
from triage.auth import service as auth_service
from triage.caller import Caller
from triage.errors import Conflict, InvalidInput, NotFound
from triage.lifecycle.codes import Role
from triage.referrals import repository
from triage.referrals.context import ReferralContext
from triage.referrals.events import refuse
from triage.referrals.schemas import LockdownBody, LockdownRead

# Who may be named: those who read referrals. The others never see one, locked or not.
NAMEABLE = frozenset({Role.triage, Role.provider})


def lock_down(
    session: Session, *, context: ReferralContext, caller: Caller, body: LockdownBody,
    now: datetime,
) -> LockdownRead:  # fmt: skip
    """Lock the referral down to the users named and the caller (replacing any lockdown)."""
    referral = context.referral
    if body.version != referral.version:
        refuse(context, caller, ["stale_version"])
    user_ids, names = [], []
    for index, name in enumerate(body.users):
        user = auth_service.user_named(session, name)
        if user is None or not user.active:
            raise InvalidInput(f"no active user {name!r}", field=("body", "users", index))
        if Role(user.role) not in NAMEABLE:
            raise InvalidInput(
                f"{name!r} is a {user.role} user, who reads no referral: name triage or "
                "provider users", field=("body", "users", index),
            )  # fmt: skip
        user_ids.append(user.id)
        names.append(user.username)
    if caller.user_id is not None and caller.user_id not in user_ids:
        user_ids.append(caller.user_id)
        names.append(caller.username)
    repository.lock_down(session, referral.id, user_ids=user_ids, reason=body.reason,
                         locked_by=caller.user_id, now=now)  # fmt: skip
    users = sorted(set(names))
    audit.record(
        session, caller=caller, action="lockdown", now=now, referral_id=referral.id,
        version=referral.version, detail={"users": users, "reason": body.reason},
    )  # fmt: skip
    view = lockdown_view(session, referral.id)
    assert view is not None
    return view


def lift(
    session: Session, *, referral_id: UUID, caller: Caller, version: int, reason: str,
    now: datetime,
) -> None:  # fmt: skip
    """Lift a lockdown: an admin, or one of the users it names (404 to anyone else)."""
    referral = repository.get(session, referral_id, for_update=True)
    if referral is None:
        raise NotFound(f"no referral {referral_id}")
    if caller.role != Role.admin and not repository.may_read(session, referral_id, caller.user_id):
        raise NotFound(f"no referral {referral_id}")
    if caller.role == Role.provider and not repository.is_visible_to_provider(
        session, referral_id, caller.provider_id or -1
    ):
        raise NotFound(f"no referral {referral_id}")
    if version != referral.version:
        raise Conflict(
            "the referral has changed since it was read", state=referral.state,
            version=referral.version, allowed_events=[], failed=["stale_version"],
        )  # fmt: skip
    if not repository.lift(session, referral_id):
        raise Conflict(
            "the referral is not locked down", state=referral.state,
            version=referral.version, allowed_events=[], failed=["not_locked_down"],
        )  # fmt: skip
    audit.record(session, caller=caller, action="lockdown_lifted", now=now,
                 referral_id=referral_id, version=referral.version,
                 detail={"reason": reason})  # fmt: skip


def lockdown_view(session: Session, referral_id: UUID) -> LockdownRead | None:
    found = repository.lockdown_of(session, referral_id)
    if found is None:
        return None
    locked, users = found
    return LockdownRead(
        users=users,
        reason=locked.reason,
        locked_by=auth_service.username(session, locked.locked_by),
        locked_at=locked.locked_at,
    )
