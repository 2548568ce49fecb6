"""The referral a route works on, loaded once for the caller or answered 404, and the body it
is sent, parsed only after that: 401, then 403, then 404, then 422 (DESIGN 4)."""

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Path
from sqlalchemy.orm import Session

from triage.assessment.schemas import AssessmentUpdate, ConsentUpdate
from triage.caller import Caller
from triage.deps import (
    AppSettings,
    DbSession,
    Rules,
    TriageOrProvider,
    admin_only,
    allow_roles,
    body_after,
    raw_body,
    triage_only,
    triage_or_provider,
)
from triage.errors import NotFound, parse_body
from triage.lifecycle.codes import Event, Role
from triage.referrals import repository
from triage.referrals.context import ReferralContext, load
from triage.referrals.events import check_role
from triage.referrals.schemas import (
    EVENT_BODIES,
    REFERENCE,
    ErasureBody,
    EventBody,
    LockdownBody,
)

# A referral's id, or its VR- reference (GET /api/referrals/VR-26-7K3M9QXD).
UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
ReferralKey = Annotated[
    str,
    Path(
        pattern=rf"^{UUID_PATTERN}$|{REFERENCE}",
        description="the referral's id, or its reference (VR-26-7K3M9QXD)",
    ),
]


def resolve(session: Session, key: str) -> UUID:
    """The referral a path names by id or by reference (an unknown one answers 404)."""
    if key.upper().startswith("VR-"):
        found = repository.id_of_reference(session, key)
        if found is None:
            raise NotFound(f"no referral {key}")
        return found
    return UUID(key)


def scoped_referral(role_check: Callable[..., Any], *, for_update: bool = False) -> Any:
    """A dependency loading the path's referral for a caller of the roles `role_check`
    allows (403 first), or answering 404 when it lies outside the caller's scope.
    `for_update` locks it until the request's transaction ends (a change follows)."""

    def referral_in_scope(
        referral_id: ReferralKey,
        caller: Annotated[Caller, Depends(role_check)],
        session: DbSession,
        rules: Rules,
        settings: AppSettings,
    ) -> ReferralContext:
        return load(
            session,
            caller=caller,
            referral_id=resolve(session, referral_id),
            rules=rules,
            settings=settings,
            for_update=for_update,
        )

    return Depends(referral_in_scope)


async def event_caller(event: Event, caller: TriageOrProvider) -> Caller:
    """The caller, if its role fires this event: 403 before the referral is looked up."""
    check_role(caller, event)
    return caller


# Read by triage or by a provider in scope; read or changed by triage alone.
ScopedReferral = Annotated[ReferralContext, scoped_referral(triage_or_provider)]
TriageReferral = Annotated[ReferralContext, scoped_referral(triage_only)]
LockedTriageReferral = Annotated[ReferralContext, scoped_referral(triage_only, for_update=True)]
EventReferral = Annotated[ReferralContext, scoped_referral(event_caller, for_update=True)]
AssessmentBody = Annotated[AssessmentUpdate, body_after(AssessmentUpdate, LockedTriageReferral)]
ConsentBody = Annotated[ConsentUpdate, body_after(ConsentUpdate, LockedTriageReferral)]
LockdownBodyIn = Annotated[LockdownBody, body_after(LockdownBody, LockedTriageReferral)]
# Who may lift a lockdown: an admin, or a triage or provider user it names.
LockdownLifter = Annotated[Caller, Depends(allow_roles(Role.triage, Role.provider, Role.admin))]


async def event_body(
    event: Event, payload: Annotated[bytes, Depends(raw_body)], _: EventReferral
) -> EventBody:
    """The event's own body (`version` and its fields), after role, event and scope."""
    return parse_body(EVENT_BODIES[event.value], payload)


EventBodyIn = Annotated[EventBody, Depends(event_body)]


def _stored_referral(
    referral_id: ReferralKey, _: Annotated[Caller, Depends(admin_only)], session: DbSession
) -> UUID:
    """The path's referral, for an admin (who reads no referral, but may erase one): 404
    when there is none."""
    found = resolve(session, referral_id)
    if repository.get(session, found) is None:
        raise NotFound(f"no referral {referral_id}")
    return found


AdminReferral = Annotated[UUID, Depends(_stored_referral)]
ErasureBodyIn = Annotated[ErasureBody, body_after(ErasureBody, AdminReferral)]
