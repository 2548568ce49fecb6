"""The case page (a referral as the triage unit or a provider works it) and its forms: each
posts into the API's own model and calls the same service function as the API."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from triage.assessment import dash
from triage.assessment.rules import risk_level
from triage.assessment.schemas import AssessmentRead, AssessmentUpdate, ConsentUpdate
from triage.auth.service import SignedIn
from triage.config import Settings
from triage.deadlines import alerts
from triage.deps import AppSettings, DbSession, Now, Rules
from triage.errors import Conflict, InvalidInput
from triage.lifecycle.codes import (
    CLOSURE_REASONS_BEFORE_SUPPORT,
    CLOSURE_REASONS_IN_SUPPORT,
    RISK_ASSESSED_CRIMES,
    VULNERABILITY_FLAGS,
    AnswerReason,
    AttemptOutcome,
    Channel,
    ConsentMethod,
    Event,
    Need,
    Outcome,
    Role,
    State,
)
from triage.lifecycle.guards import describe
from triage.providers import service as provider_service
from triage.referrals import assessing, entitlements, events, lockdown, subject_access
from triage.referrals import service as referral_service
from triage.referrals.context import ReferralContext, load
from triage.referrals.schemas import EVENT_BODIES, LockdownBody
from triage.referrals.views import referral_view
from triage.rule_sources import RuleSources
from triage.web import forms
from triage.web.forms import Field, Problem
from triage.web.labels import options
from triage.web.pages import CasePage, CheckedForm, TriagePage, redirect, render
from triage.web.when import LONDON

router = APIRouter(include_in_schema=False)
ReferralId = Annotated[UUID, Path(description="the referral's id")]
DECLINE_REASONS = [r for r in AnswerReason if r != AnswerReason.no_response]
OUTCOME_FIELDS = tuple(f"outcome-{o.value}" for o in Outcome)
FIELDS = {
    "channel": Field("Select how you tried to contact them", "Select how you contacted them"),
    "outcome": Field("Select what happened", "Select what happened"),
    "at": Field("", "The time of the attempt must be a real time, not in the future"),
    "provider": Field("", "Select a provider from the list"),
    "reason": Field("Select a reason", "Select a reason from the list"),
    "note": Field("", "Say what the reason is (5,000 characters at most)"),
    "outcomes": Field(
        "", "Answer at least one outcome question when support is completed, and none otherwise"
    ),
    "needs": Field("", "Select each need from the list"),
    "risk.dash_score": Field("", "The DASH score must be a number from 0 to 24"),
    "risk.professional_judgement": Field("", "Select a risk level from the list"),
    "vulnerability": Field("Answer each vulnerability question", "Answer each question"),
    "consent": Field("", "Select whether the victim consents to sharing, and how"),
    "consent.method": Field("Select how consent was given", "Select how consent was given"),
    "share_with_provider": Field("Select whether the victim consents", "Select yes or no"),
    "method": Field("Select how consent was given", "Select how consent was given"),
    "version": Field("Reload the page and try again", "Reload the page and try again"),
}
# The next step named on the page, by state (and whether the assessment is complete).
NEXT_STEPS = {
    State.received: "Contact the victim",
    State.contacting: "Contact the victim",
    State.awaiting_provider: "Wait for the provider to answer",
    State.in_support: "The provider is supporting the victim",
    State.closed: "Nothing more: the referral is closed",
}


@dataclass
class Case:
    """One request about one referral, from the case page or one of its forms."""

    request: Request
    signed: SignedIn
    session: Session
    rules: RuleSources
    settings: Settings
    now: datetime
    referral_id: UUID

    def load(self, *, for_update: bool = False) -> ReferralContext:
        return load(self.session, caller=self.signed.caller, referral_id=self.referral_id,
                    rules=self.rules, settings=self.settings, for_update=for_update)  # fmt: skip

    def again(
        self,
        context: ReferralContext,
        form_name: str,
        *,
        problems: list[Problem] | None = None,
        refused: str | None = None,
        answers: dict[str, Any] | None = None,
    ) -> HTMLResponse:
        """The case page again, saying what stopped the change (nothing was changed); each
        problem links to its field in the form that was sent (forms share field names)."""
        anchored = [
            Problem(p.field, p.message, anchor=f"{form_name}-{forms.field_id(p.field)}")
            for p in problems or []
        ]
        return _page(self, context, problems=anchored, refused=refused, answers=answers,
                     failed_form=form_name, status_code=409 if refused else 400)  # fmt: skip

    def change(
        self,
        context: ReferralContext,
        form_name: str,
        body: Any,
        problems: list[Problem],
        shown: dict[str, Any],
        apply: Callable[[Any], object],
    ) -> HTMLResponse | None:
        """Apply a change through its service, or the page again saying why not: the form's
        problems, a value the service refused (422), or a refusal (409, read afresh)."""
        if body is None or problems:
            return self.again(context, form_name, problems=problems, answers=shown)
        try:
            apply(body)
        except InvalidInput as error:
            problems = forms.from_invalid_input(error, FIELDS)
            return self.again(context, form_name, problems=problems, answers=shown)
        except Conflict as refused:
            self.session.rollback()
            return self.again(self.load(), form_name, refused=_refusal(refused))
        return None


def case_of(
    request: Request,
    referral_id: ReferralId,
    signed: CasePage,
    session: DbSession,
    rules: Rules,
    settings: AppSettings,
    now: Now,
) -> Case:
    return Case(request, signed, session, rules, settings, now, referral_id)


CaseRequest = Annotated[Case, Depends(case_of)]


@router.get("/referrals/{referral_id}")
def case_page(case: CaseRequest, created: bool = False) -> HTMLResponse:
    """The referral as the caller may see it, with the actions allowed now."""
    return _page(case, case.load(), created=created)


def _page(
    case: Case,
    context: ReferralContext,
    *,
    created: bool = False,
    problems: list[Problem] | None = None,
    refused: str | None = None,
    answers: dict[str, Any] | None = None,
    failed_form: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    request, signed, session, now = case.request, case.signed, case.session, case.now
    caller = signed.caller
    context = referral_service.read_referral(session, context=context, caller=caller, now=now)
    view = referral_view(session, context, caller)
    triage = caller.role == Role.triage
    history = referral_service.referral_history(session, context=context, caller=caller, now=now)
    providers = provider_service.list_providers(session)
    answers = answers or {}
    return render(
        request,
        "triage/case.html" if triage else "provider/case.html",
        signed,
        status_code=status_code,
        referral=view,
        history=[e for e in history.events if not e.action.startswith("read")],
        routing=referral_service.explain_routing(session, context=context) if triage else None,
        vcop=entitlements.entitlements_view(session, context=context) if triage else None,
        alerts=alerts.open_alerts(
            session, include_acknowledged=False, limit=20, caller=caller,
            referral_id=context.referral.id
        ) if triage else [],
        providers=[(p.code, p.name, p.accepting) for p in providers],
        names={p.code: p.name for p in providers},
        next_step=_next_step(view),
        created=created,
        problems=problems or [],
        refused=refused,
        answers=answers,
        failed_form=failed_form,
        form=_assessment_form(view.assessment, answers if failed_form == "assessment" else None),
        safe_channel_choices=options(view.safe_channels or list(Channel)),
        choices=_choices(view.state),
        dash_questions=list(enumerate(dash.QUESTIONS, start=1)),
        risk_assessed=view.crime_type in RISK_ASSESSED_CRIMES,
    )  # fmt: skip


def _assessment_form(saved: AssessmentRead | None, sent: dict[str, Any] | None) -> dict[str, Any]:
    """The assessment form's values: what was just sent (when it had a problem), else what
    is saved."""
    if sent is not None:
        consent = sent.get("consent") or {}
        share = consent.get("share_with_provider")
        return {
            "needs": sent.get("needs", []),
            "flags": [f for f, on in (sent.get("vulnerability") or {}).items() if on],
            "judgement": (sent.get("risk") or {}).get("professional_judgement"),
            "dash_score": (sent.get("risk") or {}).get("dash_score"),
            "rj": _yes_no(sent.get("restorative_justice_interest")),
            "care_leaver": _yes_no(sent.get("care_leaver")),
            "share": _yes_no(share),
            "method": consent.get("method"),
        }
    if saved is None:
        return {"needs": [], "flags": [], "dash_score": None}
    consent = saved.consent
    return {
        "needs": saved.needs,
        "flags": [f for f, on in saved.vulnerability.model_dump().items() if on]
        if saved.vulnerability
        else [],
        "judgement": saved.risk.professional_judgement,
        "dash_score": saved.risk.dash_score,
        "rj": _yes_no(saved.restorative_justice_interest),
        "care_leaver": _yes_no(saved.care_leaver),
        "share": _yes_no(consent.share_with_provider) if consent else None,
        "method": consent.method if consent else None,
    }


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else "yes" if value else "no"


def _next_step(view: Any) -> str:
    if view.state == State.assessing:
        if view.assessment is None or not view.assessment.complete:
            return "Record the needs assessment"
        return "Offer the referral to a provider"
    return NEXT_STEPS.get(State(view.state), "")


def _choices(state: str) -> dict[str, Any]:
    closing = (
        CLOSURE_REASONS_IN_SUPPORT
        if state == State.in_support
        else (CLOSURE_REASONS_BEFORE_SUPPORT)
    )
    return {
        "channels": options(Channel),
        "outcomes_of_attempt": options(AttemptOutcome),
        "decline_reasons": options(DECLINE_REASONS),
        "closure_reasons": options(sorted(closing)),
        "support_outcomes": options(Outcome),
        "needs": options(Need),
        "flags": options(VULNERABILITY_FLAGS),
        "methods": options(ConsentMethod),
        "levels": [("", "None"), *options(("standard", "medium", "high"))],
    }


@router.post("/referrals/{referral_id}/events/{event}")
def fire(case: CaseRequest, event: Event, form: CheckedForm) -> Response:
    """One lifecycle event from its form, through the API's own body model and service."""
    caller = case.signed.caller
    events.check_role(caller, event)
    context = case.load(for_update=True)
    data = forms.values(form, skip=("at_time", *OUTCOME_FIELDS))
    problems = _event_extras(event, form, data, case.now)
    body, invalid = forms.parse(EVENT_BODIES[event.value], data, FIELDS)
    refused = case.change(context, event.value, body, problems + invalid, forms.values(form),
                          lambda body: events.fire_event(case.session, context=context,
                                                         caller=caller, event=event, body=body,
                                                         now=case.now))  # fmt: skip
    if refused is not None:
        return refused
    if event in (Event.decline, Event.hand_back):  # out of this provider's scope from now
        return redirect("/offers?done=" + event.value)
    return redirect(f"/referrals/{case.referral_id}#{_section(event)}")


def _event_extras(
    event: Event, form: FormData, data: dict[str, Any], now: datetime
) -> list[Problem]:
    """What a page asks differently from the API: an attempt's time of day today (the API
    takes a full date and time), and each outcome measure answered yes or no."""
    if event == Event.log_contact_attempt:
        typed = str(form.get("at_time") or "").strip()
        if typed:
            at = _time_today(typed, now)
            if at is None:
                return [Problem("at", FIELDS["at"].invalid)]
            data["at"] = at
    if event == Event.close:
        answered = {o.value: form.get(f"outcome-{o.value}") for o in Outcome}
        outcomes = {code: answer == "yes" for code, answer in answered.items() if answer}
        if outcomes:
            data["outcomes"] = outcomes
    return []


def _time_today(typed: str, now: datetime) -> datetime | None:
    """'9:30', '14.05' or '1430' as today's time in London; None if it is not a time or is
    later than now (the model refuses a future time too; this names the field)."""
    digits = typed.replace(".", ":").replace(" ", "")
    if ":" not in digits and digits.isdigit() and len(digits) in (3, 4):
        digits = f"{digits[:-2]}:{digits[-2:]}"
    hours, _, minutes = digits.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        return None
    if int(hours) > 23 or int(minutes) > 59:
        return None
    local = now.astimezone(LONDON).replace(hour=int(hours), minute=int(minutes), second=0,
                                            microsecond=0)  # fmt: skip
    return local if local <= now else None


def _section(event: Event) -> str:
    """Where on the case page the result of an event shows."""
    if event in (Event.log_contact_attempt, Event.contact_made):
        return "contact"
    return "next-step"


@router.post("/referrals/{referral_id}/assessment")
def record_assessment(case: CaseRequest, form: CheckedForm) -> Response:
    """The needs assessment, through `AssessmentUpdate`: the DASH score is the number of
    questions answered yes, counted here again whatever the page showed; when the questions
    were not asked again, the saved score is kept."""
    context = case.load(for_update=True)
    data = _assessment_data(form)
    saved = context.assessment.dash_score if context.assessment else None
    if saved is not None:
        data["risk"].setdefault("dash_score", saved)
    body, problems = forms.parse(AssessmentUpdate, data, FIELDS)
    shown = {**data, **{f"dash-{n}": form.get(f"dash-{n}") for n in range(1, 25)}}
    refused = case.change(context, "assessment", body, problems, shown,
                          lambda body: assessing.record_assessment(
                              case.session, context=context, caller=case.signed.caller,
                              body=body, now=case.now))  # fmt: skip
    return refused or redirect(f"/referrals/{case.referral_id}#assessment")


@router.post("/referrals/{referral_id}/consent")
def change_consent(case: CaseRequest, form: CheckedForm) -> Response:
    """Give or withdraw consent to share, through `ConsentUpdate`."""
    context = case.load(for_update=True)
    data = forms.values(form)
    if "share_with_provider" in data:
        data["share_with_provider"] = data["share_with_provider"] == "yes"
    body, problems = forms.parse(ConsentUpdate, data, FIELDS)
    refused = case.change(context, "consent", body, problems, forms.values(form),
                          lambda body: assessing.change_consent(
                              case.session, context=context, caller=case.signed.caller,
                              body=body, now=case.now))  # fmt: skip
    return refused or redirect(f"/referrals/{case.referral_id}#consent")


@router.post("/referrals/{referral_id}/dash")
def dash_score(
    request: Request, referral_id: ReferralId, signed: TriagePage, form: CheckedForm
) -> HTMLResponse:
    """The DASH score and risk level so far (HTMX, as questions are answered): counted and
    banded by the same rules as the saved assessment."""
    data = _assessment_data(form)
    risk = data.get("risk", {})
    level = risk_level(risk.get("dash_score"), risk.get("professional_judgement") or None)
    return render(
        request,
        "triage/dash_score.html",
        signed,
        score=risk.get("dash_score"),
        level=level.value if level else None,
    )


def _assessment_data(form: FormData) -> dict[str, Any]:
    """The assessment form as `AssessmentUpdate` takes it."""
    data = forms.values(form, lists=("needs",), skip=[f"dash-{n}" for n in range(1, 25)])
    answered = {n: str(form.get(f"dash-{n}") or "") for n in range(1, 25)}
    risk: dict[str, Any] = {}
    if any(answered.values()):
        risk["dash_score"] = dash.score(answered)
    judgement = data.pop("professional_judgement", None)
    if judgement:
        risk["professional_judgement"] = judgement
    data["risk"] = risk
    flags = set(form.getlist("vulnerability"))
    data["vulnerability"] = {flag: flag in flags for flag in VULNERABILITY_FLAGS}
    for choice in ("restorative_justice_interest", "care_leaver"):
        data[choice] = data.get(choice) == "yes"
    share = data.pop("share_with_provider", None)
    method = data.pop("method", None)
    if share in ("yes", "no"):
        data["consent"] = {"share_with_provider": share == "yes", "method": method}
    return data


# The privacy forms' own words: their `reason` is written, not chosen.
PRIVACY_FIELDS = {
    **FIELDS,
    "users": Field("", "Name active triage or provider users, separated by commas (50 at most)"),
    "reason": Field("Say why", "Say why in one line (200 characters at most)"),
}


@router.post("/referrals/{referral_id}/lockdown")
def lock_down(case: CaseRequest, form: CheckedForm) -> Response:
    """Lock the referral down to named users, through `LockdownBody` (triage)."""
    context = case.load(for_update=True)
    shown = forms.values(form)
    names = [n.strip() for n in str(shown.get("users") or "").split(",") if n.strip()]
    data = {"version": shown.get("version"), "users": names, "reason": shown.get("reason")}
    body, problems = forms.parse(LockdownBody, data, PRIVACY_FIELDS)
    if case.signed.caller.role != Role.triage:
        return case.again(
            context, "lockdown", refused="Only the triage unit locks a referral down."
        )

    def apply(body: LockdownBody) -> None:
        try:
            lockdown.lock_down(case.session, context=context, caller=case.signed.caller,
                               body=body, now=case.now)  # fmt: skip
        except InvalidInput as error:  # one box holds every name: the problem is on it
            raise InvalidInput(error.message, field=("body", "users")) from None

    refused = case.change(context, "lockdown", body, problems, shown, apply)
    return refused or redirect(f"/referrals/{case.referral_id}#privacy")


@router.post("/referrals/{referral_id}/lockdown/lift")
def lift_lockdown(case: CaseRequest, form: CheckedForm) -> Response:
    """Lift the lockdown (a user it names)."""
    context = case.load(for_update=True)
    shown = forms.values(form)
    reason = str(shown.get("reason") or "").strip()
    if not reason or len(reason) > 200 or "\n" in reason:
        problem = Problem("reason", PRIVACY_FIELDS["reason"].invalid if reason else
                          PRIVACY_FIELDS["reason"].missing)  # fmt: skip
        return case.again(context, "lift", problems=[problem], answers=shown)
    refused = case.change(context, "lift", reason, [], shown,
                          lambda reason: lockdown.lift(
                              case.session, referral_id=case.referral_id,
                              caller=case.signed.caller, version=int(shown.get("version") or 0),
                              reason=reason, now=case.now))  # fmt: skip
    return refused or redirect(f"/referrals/{case.referral_id}#privacy")


@router.get("/referrals/{referral_id}/subject-access")
def subject_access_page(
    case: CaseRequest, _: TriagePage, reason: str | None = None, download: bool = False
) -> Response:
    """A subject access request: first why (audited), then everything held about the
    victim as a page to read and print, or as JSON to give them."""
    context = case.load()
    reason = (reason or "").strip()
    if not reason or len(reason) > 200 or any(ord(c) < 32 for c in reason):
        problems = [Problem("reason", PRIVACY_FIELDS["reason"].invalid)] if reason else []
        return render(case.request, "triage/subject_access.html", case.signed,
                      referral=referral_view(case.session, context, case.signed.caller),
                      held=None, reason=reason, problems=problems,
                      status_code=400 if problems else 200)  # fmt: skip
    held = subject_access.subject_access(
        case.session, context=context, caller=case.signed.caller, reason=reason, now=case.now
    )
    if download:
        return Response(
            held.model_dump_json(indent=2),
            media_type="application/json",
            headers={"Content-Disposition":
                     f'attachment; filename="subject-access-{held.referral.reference}.json"'},
        )  # fmt: skip
    return render(case.request, "triage/subject_access.html", case.signed,
                  referral=held.referral, held=held, reason=reason)  # fmt: skip


def _refusal(refused: Conflict) -> str:
    """A 409 in words: what stopped it (the referral changed, a guard failed)."""
    failed = refused.detail.get("failed") or []
    if "stale_version" in failed:
        return "Someone else changed the referral since you opened it. Check it and try again."
    return (describe(failed) if failed else refused.message).capitalize() + "."
