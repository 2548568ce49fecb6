"""The Victims' Code entitlements of one referral."""

from uuid import UUID

from fastapi import APIRouter

from triage.auth.deps import TriageOnly
from triage.deps import AppSettings, DbSession
from triage.referrals.context import load
from triage.vcop import service
from triage.vcop.schemas import VcopRead

router = APIRouter(tags=["victims code"])


@router.get("/api/referrals/{referral_id}/vcop", response_model=VcopRead)
def read_entitlements(
    referral_id: UUID, caller: TriageOnly, session: DbSession, settings: AppSettings
) -> VcopRead:
    """Each right: edition, status, due and met times, and every check that logged it."""
    context = load(session, caller=caller, referral_id=referral_id, settings=settings)
    return service.entitlements_view(session, context=context)
