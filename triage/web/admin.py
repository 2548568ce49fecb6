"""The admin's pages: users (list, add, reset a password, disable and enable: a disabled
user's tokens and sessions stop at once), the provider directory (edit an entry, its
accepting switch and capacity) and the access report (who read or changed a referral, what
one user read or changed), through the same service functions as the API and CLI."""

import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from triage.audit import service as audit_service
from triage.audit.schemas import AccessQuery, Key, ReferralAccess, UserAccess
from triage.auth import service as auth_service
from triage.auth.service import SignedIn
from triage.bounds import Day
from triage.deps import DbSession, Now, Rules
from triage.errors import InvalidInput, NotFound
from triage.lifecycle.codes import Channel, CrimeType, HateStrand, Role
from triage.providers import service as provider_service
from triage.providers.models import Provider
from triage.reports.access import access_csv
from triage.routing.rules import PROVIDER_CODE, SPECIALISMS, ProviderEntry
from triage.rule_sources import RuleSources
from triage.web import forms
from triage.web.forms import Field, Problem
from triage.web.labels import options
from triage.web.pages import AdminPage, CheckedForm, redirect, render

router = APIRouter(include_in_schema=False)
USERNAME = r"^[A-Za-z0-9._@-]{1,100}$"
Username = Annotated[str, Path(pattern=USERNAME)]
ProviderCodePath = Annotated[str, Path(pattern=PROVIDER_CODE)]
ROLES = [Role.triage, Role.provider, Role.commissioner, Role.admin, Role.intake]
USER_FIELDS = {
    "username": Field("Enter a username", "Use letters, numbers and . _ @ - only (100 at most)"),
    "password": Field("Enter a password", "The password needs at least 8 characters"),
    "role": Field("Select a role", "Select a role from the list"),
    "provider": Field("Select the provider they work for", "Select a provider from the list"),
}
PROVIDER_FIELDS = {
    "name": Field("Enter the provider's name", "The name must be 200 characters or fewer"),
    "services": Field("Select at least one service", "Select services from the list"),
    "areas": Field("Select at least one area", "Select areas from the list"),
    "min_age": Field("", "The youngest age must be a whole number from 0 to 130"),
    "max_age": Field(
        "", "The oldest age must be a whole number from 0 to 130, not below the youngest"),
    "care_leaver_max_age": Field("", "The care leavers' age must be a whole number from 0 to 130"),
    "crime_types": Field("", "Select crime types from the list"),
    "hate_strands": Field("", "Select hate crime strands from the list"),
    "contact_channels": Field("", "Select ways of contact from the list"),
    "notify_address": Field(
        "", "Enter an email address in the correct format, like name@example.org"),
    "respond_by_hours": Field(
        "Enter the hours to answer an offer",
        "The hours to answer must be a whole number from 1 to 672"),
    "accepting": Field("Select whether they take new referrals", "Select yes or no"),
    "capacity": Field("", "Capacity must be a whole number, 0 or more, or left blank"),
}  # fmt: skip
ACCESS_FIELDS = {
    "referral": Field("", "Enter the referral's reference, like VR-26-7K3M9QXD, or its id"),
    "user": Field("", "Enter a username of 100 characters or fewer, on one line"),
    "from": Field("", "Enter the first day as a date from 1900 to 2100, like 2026-11-01"),
    "to": Field("", "Enter the last day as a date from 1900 to 2100, like 2026-11-30"),
}
ACCESS_PAGE_SIZE = 100
ACCESS_FILE_LINES = 1000  # the most a download holds, as the API's `limit`
Asked = Annotated[str | None, Query(max_length=200)]
LISTS = ("services", "areas", "crime_types", "hate_strands", "contact_channels")
DONE = {
    "added": "The user was added.",
    "reset": "The password was changed. Their sessions and tokens have ended.",
    "disabled": "The user was disabled. Their sessions and tokens have ended.",
    "enabled": "The user was enabled.",
    "saved": "The provider's entry was saved.",
}


# Users -------------------------------------------------------------------------------------


@router.get("/admin/users")
def users_page(
    request: Request, signed: AdminPage, session: DbSession, done: str | None = None
) -> HTMLResponse:
    return _users(request, signed, session, done=DONE.get(done or ""))


def _users(
    request: Request,
    signed: SignedIn,
    session: Session,
    *,
    done: str | None = None,
    problems: list[Problem] | None = None,
    answers: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "admin/users.html",
        signed,
        status_code=status_code,
        users=auth_service.list_users(session),
        roles=options(ROLES),
        providers=[(p.code, p.name) for p in provider_service.list_providers(session)],
        done=done,
        problems=problems or [],
        answers=answers or {},
    )


@router.post("/admin/users")
def add_user(
    request: Request, signed: AdminPage, form: CheckedForm, session: DbSession, now: Now
) -> Response:
    data = {k: str(form.get(k) or "").strip() for k in ("username", "password", "role", "provider")}
    data["password"] = str(form.get("password") or "")  # spaces are part of a password
    found = [
        Problem(name, USER_FIELDS[name].missing)
        for name in ("username", "password", "role")
        if not data[name]
    ]
    if data["username"] and not re.fullmatch(USERNAME, data["username"]):
        found.append(Problem("username", USER_FIELDS["username"].invalid))
    if data["role"] and data["role"] not in {r.value for r in ROLES}:
        found.append(Problem("role", USER_FIELDS["role"].invalid))
    if data["role"] == Role.provider and not data["provider"]:
        found.append(Problem("provider", USER_FIELDS["provider"].missing))
    if not found:
        try:
            auth_service.create_user(
                session, caller=signed.caller, username=data["username"],
                password=data["password"], role=Role(data["role"]),
                provider_code=data["provider"] if data["role"] == Role.provider else None,
                now=now,
            )  # fmt: skip
        except InvalidInput as error:
            found = forms.from_invalid_input(error, USER_FIELDS)
    if found:
        data.pop("password")
        return _users(request, signed, session, problems=found, answers=data, status_code=400)
    return redirect("/admin/users?done=added#users")


@router.get("/admin/users/{username}")
def user_page(
    request: Request, username: Username, signed: AdminPage, session: DbSession
) -> HTMLResponse:
    return _user(request, signed, session, username)


def _user(
    request: Request,
    signed: SignedIn,
    session: Session,
    username: str,
    *,
    problems: list[Problem] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    found = next(((u, p) for u, p in auth_service.list_users(session) if u.username == username),
                 None)  # fmt: skip
    if found is None:
        return render(request, "errors/error.html", signed, status_code=404,
                      heading="Page not found",
                      message=f"There is no user {username}.")  # fmt: skip
    user, provider = found
    return render(request, "admin/user.html", signed, status_code=status_code, user=user,
                  provider=provider, problems=problems or [])  # fmt: skip


@router.post("/admin/users/{username}/password")
def reset_password(
    request: Request,
    username: Username,
    signed: AdminPage,
    form: CheckedForm,
    session: DbSession,
    now: Now,
) -> Response:
    password = str(form.get("password") or "")
    problem = None
    if not password:
        problem = Problem("password", USER_FIELDS["password"].missing)
    else:
        try:
            auth_service.reset_password(session, caller=signed.caller, username=username,
                                        password=password, now=now)  # fmt: skip
        except InvalidInput as error:
            problem = forms.from_invalid_input(error, USER_FIELDS)[0]
    if problem:
        return _user(request, signed, session, username, problems=[problem], status_code=400)
    return redirect("/admin/users?done=reset")


@router.post("/admin/users/{username}/active")
def set_active(
    request: Request,
    username: Username,
    signed: AdminPage,
    form: CheckedForm,
    session: DbSession,
    now: Now,
) -> Response:
    active = form.get("active") == "yes"
    try:
        auth_service.set_active(session, caller=signed.caller, username=username,
                                active=active, now=now)  # fmt: skip
    except InvalidInput as error:
        problem = Problem("active", error.message[:1].upper() + error.message[1:])
        return _user(request, signed, session, username, problems=[problem], status_code=400)
    return redirect("/admin/users?done=" + ("enabled" if active else "disabled"))


# Providers ---------------------------------------------------------------------------------


@router.get("/admin/providers")
def providers_page(
    request: Request, signed: AdminPage, session: DbSession, done: str | None = None
) -> HTMLResponse:
    return render(request, "admin/providers.html", signed,
                  providers=provider_service.list_providers(session),
                  done=DONE.get(done or ""))  # fmt: skip


@router.get("/admin/providers/{code}")
def provider_page(
    request: Request, code: ProviderCodePath, signed: AdminPage, session: DbSession,
    rules: Rules,
) -> HTMLResponse:  # fmt: skip
    provider = provider_service.get_provider(session, code=code)
    return _provider(request, signed, provider, rules, _entry_values(provider))


def _provider(
    request: Request,
    signed: SignedIn,
    provider: Provider,
    rules: RuleSources,
    answers: dict[str, Any],
    *,
    problems: list[Problem] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "admin/provider.html",
        signed,
        status_code=status_code,
        provider=provider,
        answers=answers,
        problems=problems or [],
        choices={
            "services": options(sorted(SPECIALISMS)),
            "areas": options(sorted(rules.areas)),
            "crime_types": options(CrimeType),
            "hate_strands": options(HateStrand),
            "contact_channels": options(Channel),
        },
    )


def _entry_values(provider: Provider) -> dict[str, Any]:
    """The form's values from the directory entry as it is."""
    values = {key: getattr(provider, key) for key in ProviderEntry.model_fields}
    values["accepting"] = "yes" if provider.accepting else "no"
    return values


@router.post("/admin/providers/{code}")
def save_provider(
    request: Request,
    code: ProviderCodePath,
    signed: AdminPage,
    form: CheckedForm,
    session: DbSession,
    rules: Rules,
    now: Now,
) -> Response:
    """The whole entry, through the API's own `ProviderEntry` (min age ≤ max age with it)."""
    provider = provider_service.get_provider(session, code=code)
    data = forms.values(form, lists=LISTS)
    sent = {**data}
    if "accepting" in data:
        data["accepting"] = {"yes": True, "no": False}.get(data["accepting"], data["accepting"])
    data.update(code=provider.code, funding=provider.funding)
    problems: list[Problem] = []
    try:
        entry = ProviderEntry.model_validate(data)
    except ValidationError as error:
        problems = forms.problems(error.errors(include_url=False), PROVIDER_FIELDS)
    else:
        try:
            provider_service.update_provider(session, caller=signed.caller, code=code,
                                             entry=entry, now=now)  # fmt: skip
        except InvalidInput as error:
            problems = forms.from_invalid_input(error, PROVIDER_FIELDS)
    if problems:
        session.rollback()
        provider = provider_service.get_provider(session, code=code)
        return _provider(request, signed, provider, rules, sent, problems=problems,
                         status_code=400)  # fmt: skip
    return redirect("/admin/providers?done=saved")


# Access report ------------------------------------------------------------------------------


@router.get("/admin/access")
def access_page(
    request: Request,
    signed: AdminPage,
    session: DbSession,
    now: Now,
    referral: Asked = None,
    user: Asked = None,
    start: Annotated[str | None, Query(alias="from", max_length=200)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The form, and once asked the report's lines a page at a time (producing it is audited,
    as through the API)."""
    sent = {"referral": referral, "user": user, "from": start, "to": end}
    answers = {name: value.strip() for name, value in sent.items() if value and value.strip()}
    report: ReferralAccess | UserAccess | None = None
    problems: list[Problem] = []
    if answers:
        report, problems = _access_report(session, signed, answers, page, now)
    asked = _asked(report)
    return render(request, "admin/access.html", signed, status_code=400 if problems else 200,
                  answers=answers, problems=problems, report=report, asked=asked, page=page,
                  pages=-(-report.total // ACCESS_PAGE_SIZE) if report else 1,
                  page_url=lambda number: "/admin/access?" + urlencode({**asked, "page": number}),
                  download="/admin/access.csv?" + urlencode(asked),
                  file_lines=ACCESS_FILE_LINES)  # fmt: skip


def _access_report(
    session: Session, signed: SignedIn, answers: dict[str, str], page: int, now: datetime
) -> tuple[ReferralAccess | UserAccess | None, list[Problem]]:
    """The report the form asks for, or what is wrong with the form."""
    query, problems = forms.parse(AccessQuery, answers, ACCESS_FIELDS)
    if query is None:
        return None, problems
    try:
        report = audit_service.access_report(
            session, caller=signed.caller, query=query, limit=ACCESS_PAGE_SIZE,
            offset=(page - 1) * ACCESS_PAGE_SIZE, now=now)  # fmt: skip
    except InvalidInput as error:
        field, message = str(error.field[-1]), error.message
    except NotFound as error:
        field, message = ("referral" if query.referral else "user"), error.message
    else:
        return report, []
    return None, [Problem(field, message[:1].upper() + message[1:])]


def _asked(report: ReferralAccess | UserAccess | None) -> dict[str, str]:
    """The report's own query (the referral's reference, the days it covered), for links."""
    if report is None:
        return {}
    subject = ({"referral": report.reference} if isinstance(report, ReferralAccess)
               else {"user": report.user})  # fmt: skip
    return {**subject, "from": report.start.isoformat(), "to": report.end.isoformat()}


@router.get("/admin/access.csv")
def access_download(
    signed: AdminPage,
    session: DbSession,
    now: Now,
    referral: Annotated[Key | None, Query()] = None,
    user: Annotated[Key | None, Query()] = None,
    start: Annotated[Day | None, Query(alias="from")] = None,
    end: Annotated[Day | None, Query(alias="to")] = None,
) -> Response:
    """The report's first 1,000 lines as the API's CSV file (audited as the page is)."""
    query = AccessQuery.model_validate({"referral": referral, "user": user, "from": start,
                                        "to": end})  # fmt: skip
    report = audit_service.access_report(session, caller=signed.caller, query=query,
                                         limit=ACCESS_FILE_LINES, offset=0, now=now)  # fmt: skip
    return access_csv(report)
