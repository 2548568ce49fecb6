"""Every query of the auth domain: users, tokens, sessions, the caller behind a token, and
the failed sign-ins the throttle counts."""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from triage.auth.models import PageSession, SignInFailure, Token, User
from triage.db import table_of
from triage.providers.models import Provider


def user_named(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def username_taken(session: Session, username: str) -> bool:
    return session.scalar(select(User.id).where(User.username == username)) is not None


def add_user(session: Session, user: User) -> User:
    session.add(user)
    session.flush()
    return user


def set_password_hash(session: Session, *, user_id: int, password_hash: str) -> None:
    session.execute(update(User).where(User.id == user_id).values(password_hash=password_hash))


def username(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return session.scalar(select(User.username).where(User.id == user_id))


def usernames(session: Session, user_ids: Iterable[int | None]) -> dict[int, str]:
    """Usernames by id, for the ids given (None and unknown ids left out)."""
    wanted = {i for i in user_ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(wanted)))
    return {user_id: name for user_id, name in rows}


def providers_of(session: Session, user_ids: Iterable[int | None]) -> dict[int, int | None]:
    """Each user's provider (None for a user of no provider), for the ids given."""
    wanted = {i for i in user_ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.provider_id).where(User.id.in_(wanted)))
    return {user_id: provider_id for user_id, provider_id in rows}


def add_token(session: Session, token: Token) -> None:
    session.add(token)


CallerRow = tuple[int, str, str, int | None, str | None]


def caller_row(
    session: Session, *, digest: str, now: datetime
) -> tuple[CallerRow, datetime] | None:
    """The user (id, username, role, provider id and code) of a current token, if any, and
    when the token expires."""
    row = session.execute(_CALLER_BY_DIGEST, {"digest": digest, "now": now}).first()
    return None if row is None else ((row[0], row[1], row[2], row[3], row[4]), row[5])


# Built once (runs on every request): parameters instead of a new statement per call.
_CALLER_BY_DIGEST = (
    select(User.id, User.username, User.role, User.provider_id, Provider.code, Token.expires_at)
    .join(Token, Token.user_id == User.id)
    .outerjoin(Provider, Provider.id == User.provider_id)
    .where(
        Token.token_hash == bindparam("digest"),
        Token.revoked_at.is_(None),
        Token.expires_at > bindparam("now", type_=table_of(Token).c.expires_at.type),
        User.active.is_(True),
    )
)


def revoke_token(session: Session, *, digest: str, now: datetime) -> None:
    session.execute(
        update(Token)
        .where(Token.token_hash == digest, Token.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def session_row(session: Session, *, digest: str) -> tuple[PageSession, CallerRow] | None:
    """A page session that is not revoked, with its user (if still active)."""
    row = session.execute(_SESSION_BY_DIGEST, {"digest": digest}).first()
    if row is None:
        return None
    page_session, user_id, username_, role, provider_id, code = row
    return page_session, (user_id, username_, role, provider_id, code)


_SESSION_BY_DIGEST = (
    select(PageSession, User.id, User.username, User.role, User.provider_id, Provider.code)
    .join(User, User.id == PageSession.user_id)
    .outerjoin(Provider, Provider.id == User.provider_id)
    .where(
        PageSession.token_hash == bindparam("digest"),
        PageSession.revoked_at.is_(None),
        User.active.is_(True),
    )
)


def add_session(session: Session, page_session: PageSession) -> None:
    session.add(page_session)


def revoke_session(session: Session, *, digest: str, now: datetime) -> None:
    session.execute(
        update(PageSession)
        .where(PageSession.token_hash == digest, PageSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_everything_of(session: Session, *, user_id: int, now: datetime) -> None:
    """Every bearer token and page session of a user ends now."""
    for table in (Token, PageSession):
        session.execute(
            update(table)
            .where(table.user_id == user_id, table.revoked_at.is_(None))
            .values(revoked_at=now)
        )


def users(session: Session) -> list[tuple[User, str | None]]:
    """Every user, by username, with the code of the provider a provider's worker is of."""
    rows = session.execute(
        select(User, Provider.code)
        .outerjoin(Provider, Provider.id == User.provider_id)
        .order_by(User.username)
    )
    return [(user, code) for user, code in rows]


def user_for_update(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username).with_for_update())


def failure_times(
    session: Session, *, username_key: str, address: str, since: datetime
) -> tuple[list[datetime], list[datetime]]:
    """When sign-in failed since `since`: for this username, and from this address."""
    table = SignInFailure
    by_name = session.scalars(
        select(table.at).where(table.username_key == username_key, table.at >= since)
    ).all()
    by_address = session.scalars(
        select(table.at).where(table.address == address, table.at >= since)
    ).all()
    return list(by_name), list(by_address)


def add_failure(session: Session, failure: SignInFailure) -> None:
    session.add(failure)


def clear_failures(session: Session, *, username_key: str) -> None:
    session.execute(delete(SignInFailure).where(SignInFailure.username_key == username_key))


def forget_failures_before(session: Session, *, before: datetime) -> None:
    session.execute(delete(SignInFailure).where(SignInFailure.at < before))
