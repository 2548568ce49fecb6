"""Why a referral goes where it does: stored decisions and previews."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends

from triage.auth.deps import TriageOnly, allow_roles
from triage.auth.service import Caller
from triage.deps import AppSettings, DbSession, Now
from triage.lifecycle.codes import Role
from triage.referrals.context import load
from triage.routing import service
from triage.routing.schemas import RoutingPreview, RoutingRead

router = APIRouter(tags=["routing"])
TriageOrAdmin = Annotated[Caller, Depends(allow_roles(Role.triage, Role.admin))]


@router.get("/api/referrals/{referral_id}/routing", response_model=RoutingRead)
def explain_routing(
    referral_id: UUID, caller: TriageOnly, session: DbSession, settings: AppSettings
) -> RoutingRead:
    """The latest routing decision (rules matched, candidates, skips); live before any route."""
    context = load(session, caller=caller, referral_id=referral_id, settings=settings)
    return service.explain(session, context=context, settings=settings)


@router.post("/api/routing/preview", response_model=RoutingRead)
def preview_routing(
    body: RoutingPreview, caller: TriageOrAdmin, session: DbSession, now: Now, settings: AppSettings
) -> RoutingRead:
    """The decision the current rules would make for a referral-shaped body (saved nowhere)."""
    return service.preview(session, body=body, now=now, settings=settings)
