"""The admin's erasure page (DESIGN 11): find a closed referral by its reference, confirm,
and erase the victim's personal data at once, through the same service as the API."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from triage.auth.service import SignedIn
from triage.deps import DbSession, Now
from triage.errors import Conflict, NotFound
from triage.referrals import privacy
from triage.referrals import repository as referral_repository
from triage.referrals.models import Referral
from triage.referrals.schemas import REFERENCE
from triage.web.forms import Problem
from triage.web.pages import AdminPage, CheckedForm, redirect, render

router = APIRouter(include_in_schema=False)
REFERENCE_HINT = "Enter the referral's reference, like VR-26-7K3M9QXD"
REASON_HINT = "Say why in one line (200 characters at most), without the victim's details"


@router.get("/admin/erase")
def erase_page(
    request: Request,
    signed: AdminPage,
    session: DbSession,
    reference: Annotated[str | None, Query(max_length=40)] = None,
    done: Annotated[str | None, Query(pattern=REFERENCE)] = None,
) -> HTMLResponse:
    """Ask for a reference; then show the referral (no personal data) and ask to confirm."""
    found, problems = _found(session, reference)
    return render(request, "admin/erase.html", signed, referral=found, reference=reference,
                  problems=problems, done=done, status_code=400 if problems else 200)  # fmt: skip


@router.post("/admin/erase")
def erase(
    request: Request, signed: AdminPage, form: CheckedForm, session: DbSession, now: Now
) -> Response:
    reference = str(form.get("reference") or "")
    found, problems = _found(session, reference)
    reason = str(form.get("reason") or "").strip()
    if found is not None and (not reason or len(reason) > 200 or any(ord(c) < 32 for c in reason)):
        problems = [Problem("reason", REASON_HINT)]
    if found is None or problems:
        return _again(request, signed, found, reference, problems, reason)
    sent = str(form.get("version") or "")
    version = int(sent) if sent.isdigit() and len(sent) < 10 else 0  # else stale: 409
    try:
        privacy.erase(session, referral_id=found.id, caller=signed.caller, version=version,
                      reason=reason, now=now)  # fmt: skip
    except Conflict as refused:
        session.rollback()
        return _again(request, signed, _found(session, reference)[0], reference,
                      [Problem("reason", refused.message[:1].upper() + refused.message[1:])],
                      reason)  # fmt: skip
    return redirect(f"/admin/erase?done={found.reference}")


def _found(session: DbSession, reference: str | None) -> tuple[Referral | None, list[Problem]]:
    if not reference:
        return None, []
    referral_id = referral_repository.id_of_reference(session, reference.strip())
    if referral_id is None:
        return None, [Problem("reference", f"There is no referral {reference.strip()[:40]}")]
    referral = referral_repository.get(session, referral_id)
    if referral is None:
        raise NotFound(f"no referral {reference}")
    return referral, []


def _again(
    request: Request, signed: SignedIn, found: Referral | None, reference: str,
    problems: list[Problem], reason: str,
) -> HTMLResponse:  # fmt: skip
    return render(request, "admin/erase.html", signed, referral=found, reference=reference,
                  problems=problems or [Problem("reference", REFERENCE_HINT)], reason=reason,
                  done=None, status_code=409 if found is not None else 400)  # fmt: skip
