"""Users and tokens: sign-in (throttled), the caller behind a token, revocation."""

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from anyio import to_thread
from sqlalchemy.orm import Session

from triage.audit import service as audit
from triage.auth import repository
from triage.auth.gate import LockedOut, SignInGate, locked_out_message
from triage.auth.models import PageSession, SignInFailure, Token, User
from triage.auth.passwords import NO_PASSWORD, hash_password, new_token, token_digest
from triage.caller import Caller, require_role
from triage.errors import InvalidInput, NotAuthenticated, NotFound, Throttled
from triage.lifecycle.codes import Role
from triage.providers import repository as provider_repository

T = TypeVar("T")


def add_user(
    session: Session,
    *,
    username: str,
    password: str | None,
    role: Role,
    provider_code: str | None,
    now: datetime,
) -> User:
    """Create a user; a provider's worker must name an existing provider, nobody else may.
    Without a password (None) the account can never sign in."""
    if role == Role.system:
        raise InvalidInput("the system role belongs to the service itself", field=("role",))
    if not username.strip():
        raise InvalidInput("a username is needed", field=("username",))
    if password is not None and len(password) < 8:
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
        password_hash=NO_PASSWORD if password is None else hash_password(password),
        role=role.value,
        provider_id=provider_id,
        active=True,
        created_at=now,
    )
    return repository.add_user(session, user)


@dataclass(frozen=True)
class Attempt:
    """A sign-in: who it claims to be, from where, when, and the throttle's terms."""

    username: str
    password: str
    address: str
    now: datetime
    failures: int = 5
    address_failures: int = 20
    window: timedelta = timedelta(minutes=15)

    @property
    def username_key(self) -> str:
        # Text any database can hold: no NUL, no lone surrogate.
        text = self.username.replace("\x00", "").encode("utf-8", "replace").decode()
        return text.strip().lower()[:100]

    @property
    def keys(self) -> tuple[tuple[str, str], tuple[str, str]]:
        """What the throttle counts failures by: the username, and the address."""
        return ("username", self.username_key), ("address", self.address[:64])


@dataclass(frozen=True)
class Found:
    """The user a sign-in names, as the password check needs it (no open transaction)."""

    user_id: int
    password_hash: str
    role: Role
    active: bool


async def sign_in(
    session: Session, *, attempt: Attempt, gate: SignInGate, open_: Callable[[Session, Found], T]
) -> T:
    """Check the password and `open_` a token or session for the user; the same answer
    whichever of the two was wrong (NotAuthenticated, the failure kept). Throttled first
    (429): from the gate's memory, else the database, before any password is checked; no
    thread or connection is held while waiting for a password check."""
    try:
        gate.known_lockout(attempt.keys, attempt.now)
        found = await to_thread.run_sync(_before_the_check, session, attempt, gate)
        valid = await gate.verify(found.password_hash if found else None, attempt.password)
        if found is None or not valid or not found.active:
            await to_thread.run_sync(note_failure, session, attempt)
            raise NotAuthenticated("incorrect username or password")
        new_hash = await gate.rehashed(found.password_hash, attempt.password)
        return await to_thread.run_sync(_signed_in, session, attempt, found, new_hash, open_)
    except Throttled as refusal:
        raise await gate.refuse(refusal) from None


def _before_the_check(session: Session, attempt: Attempt, gate: SignInGate) -> Found | None:
    """The throttle's answer (LockedOut, remembered by the gate) and the user named, read in
    a transaction ended at once: the password check may wait."""
    try:
        _check_throttle(session, attempt)
        if "\x00" in attempt.username or "\x00" in attempt.password:
            return None
        user = repository.user_named(session, attempt.username)
        return (
            None
            if user is None
            else Found(user.id, user.password_hash, Role(user.role), user.active)
        )
    except LockedOut as lockout:
        gate.remember(lockout, attempt.now)
        raise
    finally:
        session.rollback()


def _signed_in(
    session: Session,
    attempt: Attempt,
    found: Found,
    new_hash: str | None,
    open_: Callable[[Session, Found], T],
) -> T:
    repository.clear_failures(session, username_key=attempt.username_key)
    if new_hash is not None:
        repository.set_password_hash(session, user_id=found.user_id, password_hash=new_hash)
    return open_(session, found)


def _check_throttle(session: Session, attempt: Attempt) -> None:
    since = attempt.now - attempt.window
    by_name, by_address = repository.failure_times(
        session, username_key=attempt.username_key, address=attempt.address, since=since
    )
    name_key, address_key = attempt.keys
    for key, times, limit in (
        (name_key, by_name, attempt.failures),
        (address_key, by_address, attempt.address_failures),
    ):
        if len(times) >= limit:
            # Open again once fewer than `limit` remain inside the window.
            until = sorted(times, reverse=True)[limit - 1] + attempt.window
            raise LockedOut(
                locked_out_message(until, attempt.now), key=key, until=until, now=attempt.now
            )


def note_failure(session: Session, attempt: Attempt) -> None:
    """Keep a failed sign-in for the throttle: whatever the attempt did is rolled back, the
    failure committed at once (the request's error must not undo it; SQLite has a single
    pooled connection, so it is this session's); failures older than a day are let go."""
    session.rollback()
    repository.add_failure(
        session,
        SignInFailure(
            username_key=attempt.username_key, address=attempt.address[:64], at=attempt.now
        ),
    )
    repository.forget_failures_before(session, before=attempt.now - timedelta(days=1))
    session.commit()


def issue_token(session: Session, found: Found, *, now: datetime, lifetime: timedelta) -> str:
    """A new bearer token for a signed-in user, current until `now + lifetime`."""
    token = new_token()
    repository.add_token(
        session,
        Token(
            token_hash=token_digest(token),
            user_id=found.user_id,
            created_at=now,
            expires_at=now + lifetime,
            revoked_at=None,
        ),
    )
    return token


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
    return _current_caller(session, token_digest(token), now)[0]


def _current_caller(session: Session, digest: str, now: datetime) -> tuple[Caller, datetime]:
    """The caller of a current token, and when the token expires (401 if it is not current)."""
    found = repository.caller_row(session, digest=digest, now=now)
    if found is None:
        raise NotAuthenticated("the token is unknown, expired or revoked")
    row, expires_at = found
    return _caller(row), expires_at


# Bumped when this process revokes a token or disables a user: every caller remembered
# before it is forgotten (RememberedCallers).
_changes = 0


def _forget_callers() -> None:
    global _changes
    _changes += 1


class RememberedCallers:
    """`authenticate` that remembers the caller of each bearer token for `seconds` (ADR 21):
    a feed posting hundreds of referrals a second is looked up once a window, not once a
    request (the lookup was a sixth of intake's Python time; benchmarks/README.md).

    A token revoked, or a user disabled, in this process is forgotten at once (a lookup
    that raced the revocation's commit is kept `seconds` at most); one revoked by another
    process (a second server, the command line) is refused within `seconds`. Never past the
    token's own expiry. `seconds` 0 looks every token up.
    """

    def __init__(self, seconds: float, *, size: int = 10_000) -> None:
        self.window = timedelta(seconds=seconds)
        self.size = size
        self.remembered: dict[str, tuple[Caller, datetime, int]] = {}

    def __call__(
        self,
        session: Session,
        *,
        token: str | None,
        now: datetime,
        roles: frozenset[Role] | None = None,
    ) -> Caller:
        if not token or not self.window:
            return authenticate(session, token=token, now=now, roles=roles)
        digest = token_digest(token)
        seen = self.remembered.get(digest)
        if seen is not None and seen[2] == _changes and now < seen[1]:
            caller = seen[0]
        else:
            changes = _changes  # read first: a revocation during the lookup forgets it
            caller, expires_at = _current_caller(session, digest, now)
            if len(self.remembered) >= self.size:
                self.remembered.clear()
            self.remembered[digest] = (caller, min(expires_at, now + self.window), changes)
        return caller if roles is None else require_role(caller, roles)


def _caller(row: repository.CallerRow) -> Caller:
    user_id, username, role, provider_id, provider_code = row
    return Caller(
        user_id=user_id,
        username=username,
        role=Role(role),
        provider_id=provider_id,
        provider_code=provider_code,
    )


# The user a feed import acts as when none is named: added the first time, unable to sign in.
FEED_USER = "police-feed"


def feed_caller(session: Session, *, username: str, now: datetime) -> Caller:
    """The caller a feed import acts as: an intake or triage user, so the audit and each
    referral's `created_by` name who brought the rows in."""
    user = repository.user_named(session, username)
    if user is None and username == FEED_USER:
        user = add_user(session, username=username, password=None,
                        role=Role.intake, provider_code=None, now=now)  # fmt: skip
        user.active = False  # never signs in: the command line acts as it
        session.flush()
    if user is None:
        raise InvalidInput(f"no user {username!r}", field=("as",))
    if Role(user.role) not in (Role.intake, Role.triage):
        raise InvalidInput(f"{username!r} is a {user.role} user: an import acts as an intake "
                           "or triage user", field=("as",))  # fmt: skip
    return Caller(user_id=user.id, username=user.username, role=Role(user.role))


# Page sessions (DESIGN 9) ---------------------------------------------------------------------

# A session's last request is noted at most this often (a write per page view otherwise).
SEEN_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SignedIn:
    """A browser's signed-in session: who, and the token its changing forms carry."""

    caller: Caller
    csrf_token: str


def start_session(session: Session, found: Found, *, now: datetime) -> str:
    """Open a page session for a signed-in user; answers the cookie's token (random, kept
    only as its digest)."""
    token = new_token()
    repository.add_session(
        session,
        PageSession(
            token_hash=token_digest(token),
            user_id=found.user_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            revoked_at=None,
        ),
    )
    return token


def signed_in(session: Session, *, token: str, now: datetime, idle: timedelta) -> SignedIn:
    """The session a cookie's token opened, if it is current: not signed out or revoked,
    its user active, and used within `idle` (NotAuthenticated otherwise)."""
    found = repository.session_row(session, digest=token_digest(token))
    if found is None or now - found[0].last_seen_at > idle:
        raise NotAuthenticated("sign in first: the session has ended")
    page_session, row = found
    if now - page_session.last_seen_at > SEEN_EVERY:
        page_session.last_seen_at = now
    return SignedIn(_caller(row), page_session.csrf_token)


def end_session(session: Session, *, token: str, now: datetime) -> None:
    """Sign a browser out: its session ends now."""
    repository.revoke_session(session, digest=token_digest(token), now=now)


# Users, for admins and the command line -------------------------------------------------------


def list_users(session: Session) -> list[tuple[User, str | None]]:
    """Every user by username, with the provider code of a provider's worker."""
    return repository.users(session)


def create_user(
    session: Session,
    *,
    caller: Caller,
    username: str,
    password: str,
    role: Role,
    provider_code: str | None,
    now: datetime,
) -> User:
    """An admin adds a user (audited)."""
    user = add_user(session, username=username, password=password, role=role,
                    provider_code=provider_code, now=now)  # fmt: skip
    _audit_user(session, caller, "user_added", user, now)
    return user


def reset_password(
    session: Session, *, caller: Caller, username: str, password: str, now: datetime
) -> User:
    """Give a user a new password; every token and session they had ends (audited)."""
    user = _user_to_change(session, username)
    if password is not None and len(password) < 8:
        raise InvalidInput("the password needs at least 8 characters", field=("password",))
    user.password_hash = hash_password(password)
    repository.revoke_everything_of(session, user_id=user.id, now=now)
    _forget_callers()
    _audit_user(session, caller, "password_reset", user, now)
    return user


def set_active(
    session: Session, *, caller: Caller, username: str, active: bool, now: datetime
) -> User:
    """Disable a user (their tokens and sessions stop working at once) or enable them again."""
    user = _user_to_change(session, username)
    if caller.user_id is not None and caller.user_id == user.id and not active:
        raise InvalidInput("you cannot disable yourself", field=("username",))
    user.active = active
    if not active:
        repository.revoke_everything_of(session, user_id=user.id, now=now)
        _forget_callers()
    _audit_user(session, caller, "user_enabled" if active else "user_disabled", user, now)
    return user


def _user_to_change(session: Session, username: str) -> User:
    user = repository.user_for_update(session, username)
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def _audit_user(session: Session, caller: Caller, action: str, user: User, now: datetime) -> None:
    session.flush()
    audit.record(session, caller=caller, action=action, now=now, detail={"user": user.username})


def revoke_token(session: Session, *, token: str, now: datetime) -> None:
    """Revoke the token presented; it will not be accepted again."""
    repository.revoke_token(session, digest=token_digest(token), now=now)
    _forget_callers()


def user_named(session: Session, username: str) -> User | None:
    return repository.user_named(session, username)


def username(session: Session, user_id: int | None) -> str | None:
    """A user's name, for answers that say who did something."""
    return repository.username(session, user_id)


def usernames(session: Session, user_ids: Iterable[int | None]) -> dict[int, str]:
    """Users' names by id (unknown ids and None left out)."""
    return repository.usernames(session, user_ids)


def providers_of(session: Session, user_ids: Iterable[int | None]) -> dict[int, int | None]:
    """Users' providers by id (None for a user of no provider)."""
    return repository.providers_of(session, user_ids)


def username_taken(session: Session, username: str) -> bool:
    return repository.username_taken(session, username)


def caller_of(session: Session, user_id: int) -> Caller:
    """The caller a user is, by id (a job acting for the user who started it)."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return Caller(user_id=user.id, username=user.username, role=Role(user.role))
