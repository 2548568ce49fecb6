"""Sign-in: the OAuth2 password flow issuing opaque bearer tokens, and revocation."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from triage.auth import service
from triage.deps import AppSettings, BearerToken, CurrentCaller, DbSession, NoUnknownQuery, Now
from triage.errors import NotAuthenticated

router = APIRouter(prefix="/api/auth", tags=["auth"])


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: str
    role: str


@router.post("/token", response_model=TokenRead)
def sign_in(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: DbSession,
    now: Now,
    settings: AppSettings,
    _unknown: NoUnknownQuery = None,
) -> TokenRead:
    """Exchange a username and password for a bearer token (8 hours by default)."""
    token, expires_at = service.issue_token(
        session,
        username=form.username,
        password=form.password,
        now=now,
        lifetime=timedelta(hours=settings.token_hours),
    )
    role = service.caller_for_token(session, token=token, now=now).role
    return TokenRead(access_token=token, expires_at=expires_at.isoformat(), role=role.value)


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
