"""Who is acting: the signed-in caller of a request, or the service itself (pure).

`triage.auth` makes callers from bearer tokens; every other domain only reads them (to
scope, to authorise, to audit), so the type lives here, beneath them all.
"""

from dataclasses import dataclass

from triage.errors import Forbidden
from triage.lifecycle.codes import Role


@dataclass(frozen=True)
class Caller:
    """Who is making a request: the signed-in user, their role and, for a provider, which."""

    user_id: int | None  # None for the service itself (see SYSTEM)
    username: str
    role: Role
    provider_id: int | None = None
    provider_code: str | None = None


SYSTEM = Caller(user_id=None, username="system", role=Role.system)


def require_role(caller: Caller, roles: frozenset[Role]) -> Caller:
    """403 for a role that may never do this."""
    if caller.role not in roles:
        raise Forbidden(f"the {caller.role.value} role may not use this route")
    return caller
