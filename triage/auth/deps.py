"""The signed-in caller behind a request's bearer token."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from triage.auth.service import Caller, authenticate, require_role
from triage.deps import DbSession, Now
from triage.lifecycle.codes import Role

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
BearerToken = Annotated[str | None, Depends(oauth2_scheme)]


def current_caller(session: DbSession, now: Now, token: BearerToken) -> Caller:
    return authenticate(session, token=token, now=now)


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def allow_roles(*roles: Role) -> Callable[[Caller], Caller]:
    """A dependency answering 403 before anything else is read, for a role never allowed."""
    allowed = frozenset(roles)

    async def check(caller: CurrentCaller) -> Caller:  # pure: runs inline, no thread hop
        return require_role(caller, allowed)

    return check


CREATORS = frozenset({Role.triage, Role.intake})
TriageOrProvider = Annotated[Caller, Depends(allow_roles(Role.triage, Role.provider))]
TriageOnly = Annotated[Caller, Depends(allow_roles(Role.triage))]
