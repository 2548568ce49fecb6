"""What every page shares: the signed-in session behind the cookie, the role a page is for,
the CSRF check of a changing form, and rendering a template with the layout's context."""

import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import ChoiceLoader, Environment, PackageLoader, PrefixLoader, select_autoescape
from starlette.datastructures import FormData

from triage.auth import service as auth_service
from triage.auth.service import SignedIn
from triage.deps import AppSettings, DbSession, Now
from triage.errors import Forbidden, NotAuthenticated
from triage.lifecycle.codes import Role
from triage.web import charts, labels, when

SESSION_COOKIE = "triage_session"
TEMPLATES = Path(__file__).resolve().parent / "templates"
SERVICE_NAME = "Victim referrals"

# Each role's home page and the pages in its navigation.
HOMES = {
    Role.triage: "/queue",
    Role.provider: "/offers",
    Role.commissioner: "/dashboard",
    Role.admin: "/admin/users",
}
NAVIGATION = {
    Role.triage: [("Queue", "/queue"), ("New referral", "/referrals/new"), ("Alerts", "/alerts")],
    Role.provider: [("Offers and cases", "/offers")],
    Role.commissioner: [("Dashboard", "/dashboard")],
    Role.admin: [("Users", "/admin/users"), ("Providers", "/admin/providers"),
                 ("Dashboard", "/dashboard")],
}  # fmt: skip


class SignInRequired(Exception):
    """No current session: the visitor is sent to sign in, then back to `next_url`."""

    def __init__(self, next_url: str) -> None:
        super().__init__("sign in first")
        self.next_url = next_url


def make_environment() -> Environment:
    """Our templates, and GOV.UK Frontend's macros under `govuk_frontend_jinja/`."""
    environment = Environment(
        loader=ChoiceLoader(
            [
                PackageLoader("triage.web", "templates"),
                PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
            ]
        ),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        radio_item=lambda choice, chosen: {
            "value": choice[0],
            "text": choice[1],
            "checked": choice[0] == chosen,
        },
        select_item=lambda choice, chosen: {
            "value": choice[0],
            "text": choice[1],
            "selected": choice[0] == chosen,
        },
        check_item=lambda choice, chosen: {
            "value": choice[0],
            "text": choice[1],
            "checked": choice[0] in (chosen or ()),
        },
        label=labels.label,
        done=labels.done,
        when=when.when,
        day=when.day_only,
        time_left=when.time_left,
        clock=when.clock_time,
        iso_day=when.iso_day,
        funnel_bar=charts.funnel_bar,
        right_bar=charts.right_bar,
    )
    return environment


ENVIRONMENT = make_environment()


def render(
    request: Request,
    template: str,
    signed: SignedIn | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page: the template with the layout's context (who is signed in, their navigation,
    the CSRF token their forms carry, the time now)."""
    now: datetime = request.app.state.clock()
    role = signed.caller.role if signed else None
    path = request.url.path
    navigation = [
        {"text": text, "href": href, "active": path == href or path.startswith(href + "/")}
        for text, href in (NAVIGATION.get(role, []) if role is not None else [])
    ]
    problems = context.get("problems") or []
    page = ENVIRONMENT.get_template(template).render(
        request=request,
        error_list=[{"text": p.message, "href": f"#{p.id}"} for p in problems],
        errors={p.field: p.message for p in problems},
        signed=signed,
        caller=signed.caller if signed else None,
        csrf_token=signed.csrf_token if signed else "",
        navigation=navigation,
        service_name=SERVICE_NAME,
        now=now,
        **context,
    )
    return HTMLResponse(page, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    """After a form: see the result (303, so a reload does not post again)."""
    return RedirectResponse(url, status_code=303)


def same_site(next_url: str | None, default: str = "/") -> str:
    """Only a path on this site is followed after signing in (never another host)."""
    if not next_url:
        return default
    parts = urlsplit(next_url)
    if parts.scheme or parts.netloc or not next_url.startswith("/") or next_url.startswith("//"):
        return default
    return next_url


def page_session(request: Request, session: DbSession, now: Now, settings: AppSettings) -> SignedIn:
    """The signed-in session of the request's cookie, or off to the sign-in page."""
    token = request.cookies.get(SESSION_COOKIE)
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        raise SignInRequired(back)
    try:
        return auth_service.signed_in(
            session, token=token, now=now, idle=timedelta(hours=settings.session_idle_hours)
        )
    except NotAuthenticated:
        raise SignInRequired(back) from None


SignedInPage = Annotated[SignedIn, Depends(page_session)]


def page_for(*roles: Role) -> Callable[..., Any]:
    """A page for these roles only: anyone else signed in gets 403."""
    allowed = frozenset(roles)

    async def check(signed: SignedInPage) -> SignedIn:
        if signed.caller.role not in allowed:
            raise Forbidden(f"the {signed.caller.role.value} role does not use this page")
        return signed

    return check


TriagePage = Annotated[SignedIn, Depends(page_for(Role.triage))]
ProviderPage = Annotated[SignedIn, Depends(page_for(Role.provider))]
CasePage = Annotated[SignedIn, Depends(page_for(Role.triage, Role.provider))]
ReportsPage = Annotated[SignedIn, Depends(page_for(Role.commissioner, Role.admin))]
AdminPage = Annotated[SignedIn, Depends(page_for(Role.admin))]


async def checked_form(request: Request, signed: SignedInPage) -> FormData:
    """A changing form's fields, once its CSRF token matches the session's (403 if not)."""
    form = await request.form()
    sent = form.get("csrf_token")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, signed.csrf_token):
        raise Forbidden("this form has expired or did not come from this service: try again")
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def sign_in_url(next_url: str) -> str:
    return f"/sign-in?next={quote(next_url, safe='/')}"
