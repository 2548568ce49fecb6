"""Signing in and out, and each role's way in (DESIGN 9)."""

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from triage.auth import service as auth_service
from triage.auth.api import sign_in_attempt
from triage.deps import AppSettings, DbSession, Now
from triage.errors import NotAuthenticated, Throttled
from triage.lifecycle.codes import Role
from triage.web.forms import Problem
from triage.web.pages import (
    HOMES,
    SESSION_COOKIE,
    CheckedForm,
    SignedInPage,
    redirect,
    render,
    same_site,
)

router = APIRouter(include_in_schema=False)
# The sign-in form has no session yet: its CSRF token is a cookie the form must echo.
SIGN_IN_COOKIE = "triage_sign_in"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@router.get("/")
def home(signed: SignedInPage) -> RedirectResponse:
    """Each role to its own home page."""
    return redirect(HOMES.get(signed.caller.role, "/sign-in"))


@router.get("/sign-in")
def sign_in_page(
    request: Request,
    next_url: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
    signed_out: bool = False,
) -> Response:
    """The sign-in form."""
    return _form(request, next_url=same_site(next_url, ""), signed_out=signed_out)


def _form(
    request: Request,
    *,
    next_url: str,
    username: str = "",
    problems: list[Problem] | None = None,
    signed_out: bool = False,
    status_code: int | None = None,
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    page = render(
        request,
        "sign_in/sign_in.html",
        None,
        status_code=status_code or (400 if problems else 200),
        form_token=token,
        next_url=next_url,
        username=username,
        problems=problems or [],
        signed_out=signed_out,
    )
    page.set_cookie(
        SIGN_IN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request)
    )
    return page


@router.post("/sign-in")
async def sign_in(
    request: Request,
    session: DbSession,
    now: Now,
    settings: AppSettings,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    form_token: Annotated[str, Form(max_length=100)] = "",
    next_field: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    """Check the username and password (never saying which was wrong), open a session."""
    cookie = request.cookies.get(SIGN_IN_COOKIE, "")
    next_url = same_site(next_field, "")
    if not cookie or not hmac.compare_digest(cookie, form_token):
        problem = Problem("username", "Your sign-in form had expired: sign in again")
        return _form(request, next_url=next_url, username=username, problems=[problem])
    problems = []
    if not username.strip():
        problems.append(Problem("username", "Enter your username"))
    if not password:
        problems.append(Problem("password", "Enter your password"))
    if problems:
        return _form(request, next_url=next_url, username=username, problems=problems)
    attempt = sign_in_attempt(request, settings, username.strip(), password, now)

    def open_session(session: Session, found: auth_service.Found) -> tuple[str, Role]:
        return auth_service.start_session(session, found, now=now), found.role

    try:
        token, role = await auth_service.sign_in(
            session, attempt=attempt, gate=request.app.state.sign_in_gate, open_=open_session
        )
    except NotAuthenticated:
        problem = Problem("username", "Enter a correct username and password")
        return _form(request, next_url=next_url, username=username, problems=[problem])
    except Throttled as throttled:
        minutes = max(1, -(-throttled.retry_after // 60))
        problem = Problem(
            "username",
            f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes > 1 else ''}",
        )
        page = _form(request, next_url=next_url, username=username, problems=[problem],
                     status_code=429)  # fmt: skip
        page.headers["Retry-After"] = str(throttled.retry_after)
        return page
    answer = redirect(next_url or HOMES.get(role, "/"))
    answer.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    answer.delete_cookie(SIGN_IN_COOKIE)
    return answer


@router.post("/sign-out")
def sign_out(
    request: Request, signed: SignedInPage, form: CheckedForm, session: DbSession, now: Now
) -> Response:
    """End this browser's session."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth_service.end_session(session, token=token, now=now)
    answer = redirect("/sign-in?signed_out=true")
    answer.delete_cookie(SESSION_COOKIE, path="/")
    return answer


def _secure(request: Request) -> bool:
    """Cookies go over HTTPS only, except to this machine (DESIGN 9: not on 127.0.0.1)."""
    return request.url.scheme == "https" or request.url.hostname not in LOCAL_HOSTS
