"""Logging a new referral: the form, checked as it is filled in (HTMX) and on submit, then
"Check your answers", then the same `create_referral` as `POST /api/referrals`."""

import uuid
from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from triage.deps import AppSettings, DbSession, Now, Rules
from triage.errors import InvalidInput
from triage.lifecycle.codes import Channel, CrimeType, HateStrand, Source
from triage.referrals import service as referral_service
from triage.referrals.schemas import ReferralCreate
from triage.rule_sources import RuleSources
from triage.web import forms
from triage.web.forms import Field, Problem
from triage.web.labels import options
from triage.web.pages import CheckedForm, TriagePage, redirect, render
from triage.web.when import LONDON

router = APIRouter(include_in_schema=False)
LISTS = ("hate_strands", "victim.safe_channels")
DATES = ("victim.date_of_birth", "crime_reported_at")
FIELDS = {
    "source": Field("Select where the referral came from", "Select where it came from"),
    "external_ref": Field("", "The crime reference must be 100 characters or fewer"),
    "crime_type": Field("Select the crime type", "Select the crime type"),
    "hate_strands": Field("", "Select each hate crime strand from the list"),
    "crime_reported_at": Field(
        "", "Enter the date the crime was reported, as a real date not in the future"
    ),
    "area": Field("Select the area", "Select an area this service covers"),
    "victim.full_name": Field(
        "Enter the victim's full name", "The name must be 200 characters or fewer"
    ),
    "victim.date_of_birth": Field("", "Date of birth must be a real date in the past, after 1900"),
    "victim.phone": Field("", "Enter a phone number, like 01332 613 000 or 07700 900 982"),
    "victim.email": Field(
        "", "Enter an email address in the correct format, like name@example.com"
    ),
    "victim.address": Field("", "The address must be 5,000 characters or fewer"),
    "victim.postcode": Field("", "Enter a real postcode, like DE1 2AB"),
    "victim.safe_channels": Field("", "Select each safe way to contact them from the list"),
    "victim.safe_times": Field("", "Safe times must be 200 characters or fewer"),
    "victim.language": Field("", "Enter a language code, like en or pl"),
    "notes": Field("", "Notes must be 5,000 characters or fewer"),
}


@router.get("/referrals/new")
def new_referral(request: Request, signed: TriagePage, rules: Rules) -> HTMLResponse:
    """The new referral form."""
    return _form(request, signed, rules, answers={"source": "police"}, problems=[])


@router.post("/referrals/new")
def check_answers(
    request: Request, signed: TriagePage, form: CheckedForm, rules: Rules, now: Now
) -> HTMLResponse:
    """Check the form; show it again with its problems, or the answers to check."""
    answers = _answers(form)
    body, problems = _validated(answers, rules, now)
    if body is None or "change" in form:
        return _form(request, signed, rules, answers=answers, problems=problems,
                     focus=str(form.get("change") or ""))  # fmt: skip
    return render(
        request,
        "triage/check_answers.html",
        signed,
        body=body,
        hidden=_hidden(form),
        idempotency_key=str(form.get("idempotency_key") or uuid.uuid4()),
    )


@router.post("/referrals/new/confirm")
def create(
    request: Request,
    signed: TriagePage,
    form: CheckedForm,
    session: DbSession,
    rules: Rules,
    settings: AppSettings,
    now: Now,
) -> Response:
    """Create the referral (once: the check page's key makes a second click the same one)."""
    answers = _answers(form)
    body, problems = _validated(answers, rules, now)
    if body is None:
        return _form(request, signed, rules, answers=answers, problems=problems)
    key = str(form.get("idempotency_key") or "")[:200] or None
    try:
        intake = referral_service.create_referral(
            session,
            caller=signed.caller,
            body=body,
            idempotency_key=key,
            now=now,
            rules=rules,
            settings=settings,
        )
    except InvalidInput as error:
        return _form(request, signed, rules, answers=answers,
                     problems=forms.from_invalid_input(error, FIELDS))  # fmt: skip
    return redirect(f"/referrals/{intake.id}?created=true")


@router.post("/referrals/new/field/{name}")
def check_field(
    request: Request,
    signed: TriagePage,
    form: CheckedForm,
    rules: Rules,
    now: Now,
    name: Annotated[str, Path(pattern=r"^[a-z_.]{1,40}$")],
) -> HTMLResponse:
    """One field checked as it is left (HTMX): its form group, with its message or none."""
    answers = _answers(form)
    _, problems = _validated(answers, rules, now)
    return render(
        request,
        "triage/new_referral_field.html",
        signed,
        field=name,
        answers=answers,
        problems=[p for p in problems if p.field == name],
        **_choices(rules),
    )


def _form(
    request: Request,
    signed: Any,
    rules: RuleSources,
    *,
    answers: dict[str, Any],
    problems: list[Problem],
    focus: str = "",
) -> HTMLResponse:
    return render(
        request,
        "triage/new_referral.html",
        signed,
        status_code=400 if problems else 200,
        answers=answers,
        problems=problems,
        focus=focus,
        **_choices(rules),
    )


def _choices(rules: RuleSources) -> dict[str, Any]:
    return {
        "sources": options(Source),
        "crime_types": options(CrimeType),
        "strands": options(HateStrand),
        "areas": options(sorted(rules.areas)),
        "channels": options(Channel),
    }


def _answers(form: FormData) -> dict[str, Any]:
    """What was entered, field by field, as typed (dates as their day, month, year)."""
    answers: dict[str, Any] = {}
    for name in FIELDS:
        if name in LISTS:
            answers[name] = [v for v in form.getlist(name) if isinstance(v, str)]
        elif name in DATES:
            answers[name] = {part: str(form.get(f"{name}-{part}") or "").strip()
                             for part in ("day", "month", "year", "time")}  # fmt: skip
        else:
            answers[name] = str(form.get(name) or "").strip()
    return answers


def _validated(
    answers: dict[str, Any], rules: RuleSources, now: datetime
) -> tuple[ReferralCreate | None, list[Problem]]:
    """The answers as the API's own model, or their problems (dates checked first)."""
    flat: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, value in answers.items():
        if name in DATES:
            parts = value
            if not any(parts.get(p) for p in ("day", "month", "year")):
                continue
            when = _date(parts, with_time=name == "crime_reported_at")
            if when is None:
                problems.append(Problem(name, FIELDS[name].invalid, f"{forms.field_id(name)}-day"))
                continue
            flat[name] = when
        elif value not in ("", []):
            flat[name] = value
    data: dict[str, Any] = {}
    for name, value in flat.items():
        forms._put(data, name.split("."), value)
    data.setdefault("victim", {})
    body, found = forms.parse(ReferralCreate, data, FIELDS)
    known = {p.field for p in problems}
    problems += [
        Problem(p.field, p.message, f"{p.id}-day") if p.field in DATES else p
        for p in found
        if p.field not in known
    ]
    if body is not None and body.area not in rules.areas:
        problems.append(Problem("area", FIELDS["area"].invalid))
    if body is not None and body.crime_reported_at is not None and body.crime_reported_at > now:
        message = FIELDS["crime_reported_at"].invalid
        problems.append(Problem("crime_reported_at", message, "crime_reported_at-day"))
    return (None if problems else body), problems


def _date(parts: dict[str, str], *, with_time: bool) -> str | None:
    """A GOV.UK date input's day, month and year (and a time such as 9:30 or 17:45) as the
    ISO text the model takes, or None when they are not a real date."""
    try:
        day = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    except (KeyError, ValueError):
        return None
    if not with_time:
        return day.isoformat()
    clock = parts.get("time") or "00:00"
    try:
        hours, _, minutes = clock.replace(".", ":").partition(":")
        at = time(int(hours), int(minutes or 0))
    except ValueError:
        return None
    return datetime.combine(day, at, tzinfo=LONDON).isoformat()


def _hidden(form: FormData) -> list[tuple[str, str]]:
    """The form's fields as sent, to carry through the check page (never in a URL)."""
    carried = []
    for name, value in form.multi_items():
        if name in ("csrf_token", "change") or not isinstance(value, str):
            continue
        carried.append((name, value))
    return carried
