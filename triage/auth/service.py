"""Users and tokens: sign-in, the caller behind a token, revocation."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from triage.auth.models import Token, User
from triage.auth.passwords import (
    hash_password,
    new_token,
    token_digest,
    verify_password,
)
from triage.errors import Forbidden, InvalidInput, NotAuthenticated
from triage.lifecycle.codes import Role
from triage.providers.models import Provider


@dataclass(frozen=True)
class Caller:
    """Who is making a request: the signed-in user, their role and, for a provider, which."""

    user_id: int | None  # None for the service itself (see SYSTEM)
    username: str
    role: Role
    provider_id: int | None = None
    provider_code: str | None = None


SYSTEM = Caller(user_id=None, username="system", role=Role.system)


def add_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    provider_code: str | None,
    now: datetime,
) -> User:
    """Create a user; a provider's worker must name an existing provider, nobody else may."""
    if role == Role.system:
        raise InvalidInput("the system role belongs to the service itself", field=("role",))
    if not username.strip():
        raise InvalidInput("a username is needed", field=("username",))
    if len(password) < 8:
        raise InvalidInput("the password needs at least 8 characters", field=("password",))
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise InvalidInput(f"user {username!r} already exists", field=("username",))
    provider_id = None
    if role == Role.provider:
        if not provider_code:
            raise InvalidInput("a provider user needs --provider CODE", field=("provider",))
        provider_id = session.scalar(select(Provider.id).where(Provider.code == provider_code))
        if provider_id is None:
            raise InvalidInput(f"no provider with code {provider_code!r}", field=("provider",))
    elif provider_code:
        raise InvalidInput("only provider users belong to a provider", field=("provider",))
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role.value,
        provider_id=provider_id,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def issue_token(
    session: Session, *, username: str, password: str, now: datetime, lifetime: timedelta
) -> tuple[str, datetime]:
    """Check the password and issue a new bearer token with its expiry."""
    if "\x00" in username or "\x00" in password:
        raise NotAuthenticated("incorrect username or password")
    user = session.scalar(select(User).where(User.username == username))
    valid = verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.active:
        raise NotAuthenticated("incorrect username or password")
    token = new_token()
    expires_at = now + lifetime
    session.add(
        Token(
            token_hash=token_digest(token),
            user_id=user.id,
            created_at=now,
            expires_at=expires_at,
            revoked_at=None,
        )
    )
    return token, expires_at


def authenticate(
    session: Session, *, token: str | None, now: datetime, roles: frozenset[Role] | None = None
) -> Caller:
    """The caller behind a bearer token (401 without a current one), in one of `roles` (403)."""
    if not token:
        raise NotAuthenticated("sign in first: no bearer token was sent")
    caller = caller_for_token(session, token=token, now=now)
    return caller if roles is None else require_role(caller, roles)


def require_role(caller: Caller, roles: frozenset[Role]) -> Caller:
    """403 for a role that may never use this route."""
    if caller.role not in roles:
        raise Forbidden(f"the {caller.role.value} role may not use this route")
    return caller


def caller_for_token(session: Session, *, token: str, now: datetime) -> Caller:
    """The caller a bearer token belongs to, if the token is current."""
    row = session.execute(_CALLER_BY_DIGEST, {"digest": token_digest(token), "now": now}).first()
    if row is None:
        raise NotAuthenticated("the token is unknown, expired or revoked")
    return Caller(
        user_id=row.id,
        username=row.username,
        role=Role(row.role),
        provider_id=row.provider_id,
        provider_code=row.code,
    )


# Built once (runs on every request): parameters instead of a new statement per call.
_CALLER_BY_DIGEST = (
    select(User.id, User.username, User.role, User.provider_id, Provider.code)
    .join(Token, Token.user_id == User.id)
    .outerjoin(Provider, Provider.id == User.provider_id)
    .where(
        Token.token_hash == bindparam("digest"),
        Token.revoked_at.is_(None),
        Token.expires_at > bindparam("now", type_=Token.__table__.c.expires_at.type),
        User.active.is_(True),
    )
)


def revoke_token(session: Session, *, token: str, now: datetime) -> None:
    """Revoke the token presented; it will not be accepted again."""
    session.execute(
        update(Token)
        .where(Token.token_hash == token_digest(token), Token.revoked_at.is_(None))
        .values(revoked_at=now)
    )
