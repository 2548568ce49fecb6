"""A provider's home: the offers waiting for its answer (soonest respond-by first), the cases
it holds, and its accepting/capacity switch."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from triage.auth.service import SignedIn
from triage.config import Settings
from triage.deps import AppSettings, DbSession, Now
from triage.lifecycle.codes import State
from triage.providers import service as provider_service
from triage.providers.schemas import CapacityUpdate
from triage.referrals import service as referral_service
from triage.referrals.repository import Filters
from triage.web import forms
from triage.web.forms import Field, Problem
from triage.web.pages import CheckedForm, ProviderPage, redirect, render

router = APIRouter(include_in_schema=False)
SHOWN = 200
DONE = {
    "decline": "You declined the referral. The unit or the next provider has it now.",
    "hand_back": "You handed the case back to the unit.",
    "capacity": "Your accepting and capacity settings are saved.",
}
FIELDS = {
    "accepting": Field("Select whether you are taking new referrals", "Select yes or no"),
    "capacity": Field("", "Capacity must be a whole number, 0 or more, or left blank"),
}


@router.get("/offers")
def offers_page(
    request: Request,
    signed: ProviderPage,
    session: DbSession,
    settings: AppSettings,
    now: Now,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    """Offers waiting for an answer, soonest first; then the cases held."""
    return _page(request, signed, session, settings, now, done=DONE.get(done or ""))


def _page(
    request: Request,
    signed: SignedIn,
    session: Session,
    settings: Settings,
    now: datetime,
    *,
    done: str | None = None,
    problems: list[Problem] | None = None,
    answers: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    caller = signed.caller
    lists = {
        name: referral_service.list_referrals(
            session, caller=caller, filters=Filters(state=state), limit=SHOWN, offset=0,
            settings=settings, now=now,
        )
        for name, state in (("offers", State.awaiting_provider), ("held", State.in_support))
    }  # fmt: skip
    provider = provider_service.own_provider(session, caller=caller)
    return render(
        request,
        "provider/offers.html",
        signed,
        status_code=status_code,
        offers=lists["offers"],
        held=lists["held"],
        shown=SHOWN,
        provider=provider,
        done=done,
        problems=problems or [],
        answers=answers or {},
    )


@router.post("/offers/capacity")
def set_capacity(
    request: Request,
    signed: ProviderPage,
    form: CheckedForm,
    session: DbSession,
    settings: AppSettings,
    now: Now,
) -> Response:
    """Whether the provider takes new referrals, and how many cases it can hold, through the
    API's own `CapacityUpdate`."""
    data = forms.values(form)
    if "accepting" in data:
        data["accepting"] = {"yes": True, "no": False}.get(data["accepting"], data["accepting"])
    try:
        body = CapacityUpdate.model_validate(data)
    except ValidationError as error:
        problems = forms.problems(error.errors(include_url=False), FIELDS)
        return _page(request, signed, session, settings, now, problems=problems, answers=data,
                     status_code=400)  # fmt: skip
    provider = provider_service.own_provider(session, caller=signed.caller)
    provider_service.set_capacity(
        session, caller=signed.caller, code=provider.code, accepting=body.accepting,
        capacity=body.capacity, now=now,
    )  # fmt: skip
    return redirect("/offers?done=capacity")
