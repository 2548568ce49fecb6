"""Sign-in: the OAuth2 password flow issuing opaque bearer tokens, and revocation."""

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from sqlalchemy.orm import Session

from triage.auth import service
from triage.config import Settings
from triage.deps import AppSettings, BearerToken, CurrentCaller, DbSession, NoUnknownQuery, Now
from triage.errors import NotAuthenticated

router = APIRouter(prefix="/api/auth", tags=["auth"])


def sign_in_attempt(
    request: Request, settings: Settings, username: str, password: str, now: datetime
) -> service.Attempt:
    """A sign-in as the throttle counts it: by username and by the client's address."""
    return service.Attempt(
        username=username,
        password=password,
        address=request.client.host if request.client else "unknown",
        now=now,
        failures=settings.sign_in_failures,
        address_failures=settings.sign_in_address_failures,
        window=timedelta(minutes=settings.sign_in_window_minutes),
    )


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: str
    role: str


@router.post(
    "/token",
    response_model=TokenRead,
    responses={429: {"description": "too many failed sign-ins: see Retry-After"}},
)
async def sign_in(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: DbSession,
    now: Now,
    settings: AppSettings,
    _unknown: NoUnknownQuery = None,
) -> TokenRead:
    """Exchange a username and password for a bearer token (8 hours by default). After 5
    failures in 15 minutes for a username, or 20 from an address: 429 with Retry-After."""
    lifetime = timedelta(hours=settings.token_hours)

    def issue(session: Session, found: service.Found) -> TokenRead:
        token = service.issue_token(session, found, now=now, lifetime=lifetime)
        return TokenRead(
            access_token=token, expires_at=(now + lifetime).isoformat(), role=found.role.value
        )

    attempt = sign_in_attempt(request, settings, form.username, form.password, now)
    return await service.sign_in(
        session, attempt=attempt, gate=request.app.state.sign_in_gate, open_=issue
    )


@router.delete("/token", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(
    caller: CurrentCaller,
    token: BearerToken,
    session: DbSession,
    now: Now,
    _unknown: NoUnknownQuery = None,
) -> None:
    """Revoke the token presented with this request."""
    if token is None:  # CurrentCaller answered 401 already; kept for the type
        raise NotAuthenticated("sign in first: no bearer token was sent")
    service.revoke_token(session, token=token, now=now)
