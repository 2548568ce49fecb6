"""Users and tokens: sign-in, the caller behind a token, revocation."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from triage.auth import repository
from triage.auth.models import Token, User
from triage.auth.passwords import hash_password, new_token, token_digest, verify_password
from triage.caller import Caller, require_role
from triage.errors import InvalidInput, NotAuthenticated
from triage.lifecycle.codes import Role
from triage.providers import repository as provider_repository


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
    if repository.username_taken(session, username):
        raise InvalidInput(f"user {username!r} already exists", field=("username",))
    provider_id = None
    if role == Role.provider:
        if not provider_code:
            raise InvalidInput("a provider user needs --provider CODE", field=("provider",))
        provider_id = provider_repository.id_of(session, provider_code)
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
    return repository.add_user(session, user)


def issue_token(
    session: Session, *, username: str, password: str, now: datetime, lifetime: timedelta
) -> tuple[str, datetime]:
    """Check the password and issue a new bearer token with its expiry."""
    if "\x00" in username or "\x00" in password:
        raise NotAuthenticated("incorrect username or password")
    user = repository.user_named(session, username)
    valid = verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.active:
        raise NotAuthenticated("incorrect username or password")
    token = new_token()
    expires_at = now + lifetime
    repository.add_token(
        session,
        Token(
            token_hash=token_digest(token),
            user_id=user.id,
            created_at=now,
            expires_at=expires_at,
            revoked_at=None,
        ),
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


def caller_for_token(session: Session, *, token: str, now: datetime) -> Caller:
    """The caller a bearer token belongs to, if the token is current."""
    row = repository.caller_row(session, digest=token_digest(token), now=now)
    if row is None:
        raise NotAuthenticated("the token is unknown, expired or revoked")
    user_id, username, role, provider_id, provider_code = row
    return Caller(
        user_id=user_id,
        username=username,
        role=Role(role),
        provider_id=provider_id,
        provider_code=provider_code,
    )


def revoke_token(session: Session, *, token: str, now: datetime) -> None:
    """Revoke the token presented; it will not be accepted again."""
    repository.revoke_token(session, digest=token_digest(token), now=now)


def username(session: Session, user_id: int | None) -> str | None:
    """A user's name, for answers that say who did something."""
    return repository.username(session, user_id)


def usernames(session: Session, user_ids: Iterable[int | None]) -> dict[int, str]:
    """Users' names by id (unknown ids and None left out)."""
    return repository.usernames(session, user_ids)


def username_taken(session: Session, username: str) -> bool:
    return repository.username_taken(session, username)
