"""HTTP routes of the referrals domain: translate requests into service calls, nothing more."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse

from triage.assessment import service as assessment_service
from triage.assessment.schemas import AssessmentUpdate, ConsentUpdate
from triage.auth.deps import CREATORS, BearerToken, TriageOnly, TriageOrProvider
from triage.auth.service import authenticate
from triage.config import Settings
from triage.db import transaction
from triage.deps import AppSettings, DbSession, Now
from triage.errors import parse_body
from triage.lifecycle.codes import CrimeType, Event, Role, State
from triage.referrals import events, service
from triage.referrals.context import load
from triage.referrals.schemas import (
    EVENT_BODIES,
    History,
    IntakeReceipt,
    ReferralCreate,
    ReferralPage,
    ReferralRead,
)
from triage.referrals.views import referral_view

router = APIRouter(prefix="/api/referrals", tags=["referrals"])
PROVIDER_CODE = r"^[a-z0-9][a-z0-9-]{1,63}$"


async def raw_body(request: Request) -> bytes:
    return await request.body()


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI text for a JSON body that the route reads raw and validates itself."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post(
    "",
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
        request.app.state,
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
    state: Any, token: str | None, payload: bytes, idempotency_key: str | None, now: datetime
) -> tuple[ReferralRead | IntakeReceipt, bool]:
    settings: Settings = state.settings
    with transaction(state.session_factory) as session:
        caller = authenticate(session, token=token, now=now, roles=CREATORS)
        body = parse_body(ReferralCreate, payload)
        intake = service.create_referral(
            session,
            caller=caller,
            body=body,
            idempotency_key=idempotency_key,
            now=now,
            settings=settings,
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
        context = load(session, caller=caller, referral_id=intake.id, settings=settings)
        return referral_view(session, context, caller), intake.created


@router.get("", response_model=ReferralPage)
def list_referrals(
    caller: TriageOrProvider,
    session: DbSession,
    settings: AppSettings,
    now: Now,
    state: State | None = None,
    crime_type: CrimeType | None = None,
    provider: Annotated[str | None, Query(pattern=PROVIDER_CODE)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    overdue: Annotated[
        bool | None, Query(description="an offer past respond-by or a right past due")
    ] = None,
) -> ReferralPage:
    """Referrals the caller may see, newest first, filtered and paged."""
    return service.list_referrals(
        session,
        caller=caller,
        state=state,
        crime_type=crime_type,
        provider=provider,
        limit=limit,
        offset=offset,
        settings=settings,
        overdue=overdue,
        now=now,
    )


@router.get("/{referral_id}", response_model=ReferralRead)
def read_referral(
    referral_id: UUID, caller: TriageOrProvider, session: DbSession, now: Now, settings: AppSettings
) -> ReferralRead:
    """One referral's detail, as the caller may see it (the read is audited)."""
    context = service.read_referral(
        session, caller=caller, referral_id=referral_id, now=now, settings=settings
    )
    return referral_view(session, context, caller)


@router.put(
    "/{referral_id}/assessment",
    response_model=ReferralRead,
    openapi_extra=json_body(AssessmentUpdate.model_json_schema()),
)
def record_assessment(
    referral_id: UUID,
    caller: TriageOnly,
    payload: Annotated[bytes, Depends(raw_body)],
    session: DbSession,
    now: Now,
    settings: AppSettings,
) -> ReferralRead:
    """Record the needs, risk (DASH), vulnerability flags and consent."""
    context = assessment_service.record_assessment(
        session, caller=caller, referral_id=referral_id, payload=payload, now=now, settings=settings
    )
    return referral_view(session, context, caller)


@router.put(
    "/{referral_id}/consent",
    response_model=ReferralRead,
    openapi_extra=json_body(ConsentUpdate.model_json_schema()),
)
def change_consent(
    referral_id: UUID,
    caller: TriageOnly,
    payload: Annotated[bytes, Depends(raw_body)],
    session: DbSession,
    now: Now,
    settings: AppSettings,
) -> ReferralRead:
    """Give or withdraw consent to share; withdrawal withdraws an open offer."""
    context = assessment_service.change_consent(
        session, caller=caller, referral_id=referral_id, payload=payload, now=now, settings=settings
    )
    return referral_view(session, context, caller)


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
    "/{referral_id}/events/{event}", response_model=ReferralRead, openapi_extra=EVENT_SCHEMAS
)
def fire_event(
    referral_id: UUID,
    event: Event,
    caller: TriageOrProvider,
    payload: Annotated[bytes, Depends(raw_body)],
    session: DbSession,
    now: Now,
    settings: AppSettings,
) -> ReferralRead:
    """Fire one lifecycle event; the body carries the `version` last read."""
    context = events.fire_event(
        session,
        caller=caller,
        referral_id=referral_id,
        event=event,
        payload=payload,
        now=now,
        settings=settings,
    )
    return referral_view(session, context, caller)


@router.get("/{referral_id}/history", response_model=History)
def read_history(
    referral_id: UUID, caller: TriageOrProvider, session: DbSession, now: Now, settings: AppSettings
) -> History:
    """The referral's audit timeline, oldest first."""
    return service.referral_history(
        session, caller=caller, referral_id=referral_id, now=now, settings=settings
    )
