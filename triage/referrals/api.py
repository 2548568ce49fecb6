"""HTTP routes of the referrals domain and its sub-resources (assessment, consent, events,
history, routing, Victims' Code): translate requests into service calls, nothing more.

The referral a route works on comes from its scope dependency and the body from a dependency
after it (`triage/referrals/deps.py`), so the order of answers is 401, 403, 404, 422, 409.
"""

from datetime import datetime
from typing import Annotated, Any

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse

from triage.assessment.schemas import AssessmentUpdate, ConsentUpdate
from triage.caller import require_role
from triage.db import transaction
from triage.deps import (
    AdminOnly,
    AppSettings,
    Authenticate,
    BearerToken,
    DbSession,
    NoUnknownQuery,
    Now,
    Rules,
    TriageOnly,
    TriageOrAdmin,
    TriageOrProvider,
    body_after,
    check_query,
    json_body,
    raw_body,
)
from triage.errors import parse_body
from triage.lifecycle.codes import CrimeType, Event, Role, State
from triage.referrals import (
    assessing,
    entitlements,
    events,
    lockdown,
    privacy,
    service,
    subject_access,
)
from triage.referrals.context import load
from triage.referrals.deps import (
    AdminReferral,
    AssessmentBody,
    ConsentBody,
    ErasureBodyIn,
    EventBodyIn,
    EventReferral,
    LockdownBodyIn,
    LockdownLifter,
    LockedTriageReferral,
    ReferralKey,
    ScopedReferral,
    TriageReferral,
    resolve,
)
from triage.referrals.repository import Filters
from triage.referrals.schemas import (
    EVENT_BODIES,
    REFERENCE,
    ErasureBody,
    ErasureRead,
    History,
    IntakeReceipt,
    LockdownBody,
    LockdownRead,
    ReferralCreate,
    ReferralPage,
    ReferralRead,
    SubjectAccess,
)
from triage.referrals.views import referral_view
from triage.routing.rules import PROVIDER_CODE
from triage.routing.schemas import RoutingPreview, RoutingRead
from triage.vcop.schemas import VcopRead

router = APIRouter(tags=["referrals"])
# Why a person's record is read or its protection changed: one line, audited.
Reason = Annotated[
    str,
    Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$",
          description="why (audited; no personal details)"),
]  # fmt: skip
CREATORS = frozenset({Role.triage, Role.intake})


@router.post(
    "/api/referrals",
    status_code=status.HTTP_201_CREATED,
    response_model=ReferralRead | IntakeReceipt,
    responses={200: {"description": "the same request again: the referral it created"}},
    openapi_extra=json_body(ReferralCreate.model_json_schema()),
)
async def create_referral(
    request: Request,
    response: Response,
    token: BearerToken,
    payload: Annotated[bytes, Depends(raw_body)],
    now: Now,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
    ] = None,
) -> ReferralRead | IntakeReceipt | JSONResponse:
    """Log a referral. A retry with the same (source, external_ref) or key answers 200.

    The busiest route (the police feed): sign-in check, validation, the insert, its audit
    and the commit run in one trip to the thread pool (ADR 7).
    """
    answer, created = await to_thread.run_sync(
        _intake,
        request,
        token,
        payload,
        idempotency_key,
        now,
        limiter=_intake_limiter(request.app.state),
    )
    code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    if isinstance(answer, IntakeReceipt):
        # Already validated by construction: skip FastAPI's second pass over the union.
        return JSONResponse(answer.model_dump(mode="json"), status_code=code)
    response.status_code = code
    return answer


def _intake_limiter(state: Any) -> CapacityLimiter:
    """A few threads, not the pool's forty: intake is CPU-bound in Python, and more threads
    only contend for the GIL (measured: benchmarks/intake.py). Requests queue for a slot."""
    limiter: CapacityLimiter | None = getattr(state, "intake_limiter", None)
    if limiter is None:
        limiter = state.intake_limiter = CapacityLimiter(state.settings.intake_threads)
    return limiter


def _intake(
    request: Request,
    token: str | None,
    payload: bytes,
    idempotency_key: str | None,
    now: datetime,
) -> tuple[ReferralRead | IntakeReceipt, bool]:
    state = request.app.state
    authenticate: Authenticate = state.authenticate
    with transaction(state.session_factory) as session:
        caller = require_role(authenticate(session, token=token, now=now), CREATORS)
        body = parse_body(ReferralCreate, payload)
        check_query(request)
        intake = service.create_referral(
            session,
            caller=caller,
            body=body,
            idempotency_key=idempotency_key,
            now=now,
            rules=state.rules,
            settings=state.settings,
        )
        if caller.role == Role.intake:
            receipt = IntakeReceipt(
                id=intake.id,
                reference=intake.reference,
                state=intake.state,
                version=intake.version,
                allowed_events=[],
            )
            return receipt, intake.created
        context = load(
            session,
            caller=caller,
            referral_id=intake.id,
            rules=state.rules,
            settings=state.settings,
        )
        return referral_view(session, context, caller), intake.created


@router.get("/api/referrals", response_model=ReferralPage)
def list_referrals(
    caller: TriageOrProvider,
    session: DbSession,
    settings: AppSettings,
    now: Now,
    state: State | None = None,
    crime_type: CrimeType | None = None,
    provider: Annotated[str | None, Query(pattern=PROVIDER_CODE)] = None,
    reference: Annotated[
        str | None, Query(pattern=REFERENCE, description="a VR- reference")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    overdue: Annotated[
        bool | None,
        Query(description="open, and first contact, a right or a provider's answer past due"),
    ] = None,
    _unknown: NoUnknownQuery = None,
) -> ReferralPage:
    """Referrals the caller may see, filtered and paged: newest first, or for a provider its
    open offers by respond-by, then the cases it holds, then those closed."""
    filters = Filters(
        state=state,
        crime_type=crime_type,
        provider=provider,
        reference=reference,
        overdue=overdue,
        now=now,
    )
    return service.list_referrals(
        session,
        caller=caller,
        filters=filters,
        limit=limit,
        offset=offset,
        settings=settings,
        now=now,
    )


@router.get("/api/referrals/{referral_id}", response_model=ReferralRead)
def read_referral(
    caller: TriageOrProvider,
    context: ScopedReferral,
    session: DbSession,
    now: Now,
    _unknown: NoUnknownQuery = None,
) -> ReferralRead:
    """One referral's detail, as the caller may see it (the read is audited)."""
    context = service.read_referral(session, context=context, caller=caller, now=now)
    return referral_view(session, context, caller)


@router.put(
    "/api/referrals/{referral_id}/assessment",
    response_model=ReferralRead,
    openapi_extra=json_body(AssessmentUpdate.model_json_schema()),
)
def record_assessment(
    caller: TriageOnly,
    context: LockedTriageReferral,
    body: AssessmentBody,
    session: DbSession,
    now: Now,
    _unknown: NoUnknownQuery = None,
) -> ReferralRead:
    """Record the needs, risk (DASH), vulnerability flags and consent."""
    context = assessing.record_assessment(
        session, context=context, caller=caller, body=body, now=now
    )
    return referral_view(session, context, caller)


@router.put(
    "/api/referrals/{referral_id}/consent",
    response_model=ReferralRead,
    openapi_extra=json_body(ConsentUpdate.model_json_schema()),
)
def change_consent(
    caller: TriageOnly,
    context: LockedTriageReferral,
    body: ConsentBody,
    session: DbSession,
    now: Now,
    _unknown: NoUnknownQuery = None,
) -> ReferralRead:
    """Give or withdraw consent to share; withdrawal withdraws an open offer."""
    context = assessing.change_consent(session, context=context, caller=caller, body=body, now=now)
    return referral_view(session, context, caller)


@router.put(
    "/api/referrals/{referral_id}/lockdown",
    response_model=LockdownRead,
    tags=["privacy"],
    openapi_extra=json_body(LockdownBody.model_json_schema()),
)
def lock_down(
    caller: TriageOnly,
    context: LockedTriageReferral,
    body: LockdownBodyIn,
    session: DbSession,
    now: Now,
    _unknown: NoUnknownQuery = None,
) -> LockdownRead:
    """Lock the referral down to named triage or provider users (and you): everyone else is
    answered as if it did not exist. Replaces any lockdown it had; audited with the reason."""
    return lockdown.lock_down(session, context=context, caller=caller, body=body, now=now)


@router.delete(
    "/api/referrals/{referral_id}/lockdown",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["privacy"],
)
def lift_lockdown(
    caller: LockdownLifter,
    referral_id: ReferralKey,
    session: DbSession,
    now: Now,
    version: Annotated[int, Query(ge=1, description="the referral's version as last read")],
    reason: Reason,
    _unknown: NoUnknownQuery = None,
) -> Response:  # fmt: skip
    """Lift a lockdown: an admin, or one of the users it names. Audited with the reason."""
    lockdown.lift(session, referral_id=resolve(session, referral_id), caller=caller,
                  version=version, reason=reason.strip(), now=now)  # fmt: skip
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/api/referrals/{referral_id}/subject-access",
    response_model=SubjectAccess,
    tags=["privacy"],
)
def read_subject_access(
    caller: TriageOnly,
    context: TriageReferral,
    session: DbSession,
    now: Now,
    reason: Reason,
    _unknown: NoUnknownQuery = None,
) -> SubjectAccess:
    """Everything held about the victim of this referral (a subject access request): the
    referral, contacts, assessment, consent history, offers and answers, the Victims' Code
    checks and the audit timeline. Audited with the reason."""
    return subject_access.subject_access(session, context=context, caller=caller,
                                         reason=reason.strip(), now=now)  # fmt: skip


@router.post(
    "/api/referrals/{referral_id}/erase",
    response_model=ErasureRead,
    tags=["privacy"],
    openapi_extra=json_body(ErasureBody.model_json_schema()),
)
def erase_referral(
    caller: AdminOnly,
    referral_id: AdminReferral,
    body: ErasureBodyIn,
    session: DbSession,
    now: Now,
    _unknown: NoUnknownQuery = None,
) -> ErasureRead:
    """Erase a closed referral's personal data at once (an admin, with a reason): identity,
    contact details and free text removed as retention removes them; codes and dates kept."""
    referral = privacy.erase(session, referral_id=referral_id, caller=caller,
                             version=body.version, reason=body.reason, now=now)  # fmt: skip
    assert referral.anonymised_at is not None
    return ErasureRead(id=referral.id, reference=referral.reference, version=referral.version,
                       anonymised_at=referral.anonymised_at)  # fmt: skip


EVENT_SCHEMAS = json_body(
    {
        "oneOf": [
            {"title": name, **model.model_json_schema()}
            for name, model in EVENT_BODIES.items()
            if name != Event.expire
        ]
    }
)


@router.post(
    "/api/referrals/{referral_id}/events/{event}",
    response_model=ReferralRead,
    openapi_extra=EVENT_SCHEMAS,
)
def fire_event(
    event: Event,
    caller: TriageOrProvider,
    context: EventReferral,
    body: EventBodyIn,
    session: DbSession,
    now: Now,
    _unknown: NoUnknownQuery = None,
) -> ReferralRead:
    """Fire one lifecycle event; the body carries the `version` last read."""
    context = events.fire_event(
        session, context=context, caller=caller, event=event, body=body, now=now
    )
    return referral_view(session, context, caller)


@router.get("/api/referrals/{referral_id}/history", response_model=History)
def read_history(
    caller: TriageOrProvider,
    context: ScopedReferral,
    session: DbSession,
    now: Now,
    _unknown: NoUnknownQuery = None,
) -> History:
    """The referral's audit timeline, oldest first."""
    return service.referral_history(session, context=context, caller=caller, now=now)


@router.get("/api/referrals/{referral_id}/routing", response_model=RoutingRead, tags=["routing"])
def explain_routing(
    caller: TriageOnly,
    context: TriageReferral,
    session: DbSession,
    now: Now,
    _unknown: NoUnknownQuery = None,
) -> RoutingRead:
    """The latest routing decision (rules matched, candidates, skips); live before any route.
    The read is audited."""
    service.record_read(session, context=context, caller=caller, action="read_routing", now=now)
    return service.explain_routing(session, context=context)


@router.get("/api/referrals/{referral_id}/vcop", response_model=VcopRead, tags=["victims code"])
def read_entitlements(
    caller: TriageOnly,
    context: TriageReferral,
    session: DbSession,
    now: Now,
    _unknown: NoUnknownQuery = None,
) -> VcopRead:
    """Each right: edition, status, due and met times, and every check that logged it. The
    read is audited."""
    service.record_read(session, context=context, caller=caller, action="read_vcop", now=now)
    return entitlements.entitlements_view(session, context=context)


PreviewBody = Annotated[RoutingPreview, body_after(RoutingPreview, TriageOrAdmin)]


@router.post(
    "/api/routing/preview",
    response_model=RoutingRead,
    tags=["routing"],
    openapi_extra=json_body(RoutingPreview.model_json_schema()),
)
def preview_routing(
    caller: TriageOrAdmin,
    body: PreviewBody,
    session: DbSession,
    now: Now,
    rules: Rules,
    settings: AppSettings,
    _unknown: NoUnknownQuery = None,
) -> RoutingRead:
    """The decision the current rules would make for a referral-shaped body (saved nowhere)."""
    return service.preview_routing(session, body=body, now=now, rules=rules, settings=settings)
