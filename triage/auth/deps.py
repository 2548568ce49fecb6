"""The signed-in caller behind a request's bearer token."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from triage.auth.service import Caller, caller_for_token
from triage.deps import DbSession, Now
from triage.errors import Forbidden, NotAuthenticated
from triage.lifecycle.codes import Role

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
BearerToken = Annotated[str | None, Depends(oauth2_scheme)]


def current_caller(session: DbSession, now: Now, token: BearerToken) -> Caller:
    if not token:
        raise NotAuthenticated("sign in first: no bearer token was sent")
    return caller_for_token(session, token=token, now=now)


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def allow_roles(*roles: Role) -> Callable[[Caller], Caller]:
    """A dependency answering 403 before anything else is read, for a role never allowed."""
    allowed = frozenset(roles)

    async def check(caller: CurrentCaller) -> Caller:  # pure: runs inline, no thread hop
        if caller.role not in allowed:
            raise Forbidden(f"the {caller.role.value} role may not use this route")
        return caller

    return check


TriageOrProvider = Annotated[Caller, Depends(allow_roles(Role.triage, Role.provider))]
TriageOnly = Annotated[Caller, Depends(allow_roles(Role.triage))]
Creator = Annotated[Caller, Depends(allow_roles(Role.triage, Role.intake))]
