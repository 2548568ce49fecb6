"""The triage unit's queue (urgency order, filters, search) and its alerts."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from triage.bounds import RowId
from triage.deadlines import alerts
from triage.deps import AppSettings, DbSession, Now, Rules
from triage.lifecycle.codes import OPEN_STATES, CrimeType, State
from triage.providers import service as provider_service
from triage.referrals import service as referral_service
from triage.referrals.repository import Filters, Order
from triage.routing.rules import PROVIDER_CODE
from triage.web.labels import options
from triage.web.pages import CheckedForm, TriagePage, redirect, render, same_site

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@router.get("/queue")
def queue(
    request: Request,
    signed: TriagePage,
    session: DbSession,
    settings: AppSettings,
    rules: Rules,
    now: Now,
    state: State | None = None,
    area: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,49}$")] = None,
    crime_type: CrimeType | None = None,
    provider: Annotated[str | None, Query(pattern=PROVIDER_CODE)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Open referrals in urgency order: given back by a provider first, then past due and
    due soonest, enhanced before standard, oldest first."""
    filters = Filters(
        state=state,
        open_only=True,
        area=area,
        crime_type=crime_type,
        provider=provider,
        search=q.strip() if q else None,
    )
    listed = referral_service.list_referrals(
        session,
        caller=signed.caller,
        filters=filters,
        order=Order.urgency,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
        settings=settings,
        now=now,
    )
    return render(
        request,
        "triage/queue.html",
        signed,
        items=listed.items,
        total=listed.total,
        page=page,
        pages=max(1, -(-listed.total // PAGE_SIZE)),
        chosen={"state": state, "area": area, "crime_type": crime_type, "provider": provider,
                "q": q or ""},
        states=options(s for s in State if s in OPEN_STATES),
        areas=options(sorted(rules.areas)),
        crime_types=options(CrimeType),
        providers=[(p.code, p.name) for p in provider_service.list_providers(session)],
        filtered=any((state, area, crime_type, provider, q)),
        page_url=lambda number: _page_url(request, number),
    )  # fmt: skip


def _page_url(request: Request, number: int) -> str:
    return str(request.url.include_query_params(page=number).replace(scheme="", netloc=""))


@router.get("/alerts")
def alert_list(request: Request, signed: TriagePage, session: DbSession) -> HTMLResponse:
    """What the sweeps raised for the unit, newest first, not yet acknowledged."""
    found = alerts.open_alerts(session, include_acknowledged=False, limit=200, caller=signed.caller)
    return render(request, "triage/alerts.html", signed, alerts=found)


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(
    alert_id: Annotated[RowId, Path()],
    signed: TriagePage,
    form: CheckedForm,
    session: DbSession,
    now: Now,
) -> Response:
    """Mark an alert as seen (audited); back to where the button was."""
    alerts.acknowledge(session, caller=signed.caller, alert_id=alert_id, now=now)
    back = form.get("back")
    return redirect(same_site(back if isinstance(back, str) else None, "/alerts"))
