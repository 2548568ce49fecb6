"""Dependencies shared by every router: the request's transaction, the clock, settings, the
rule sources, and the signed-in caller.

They read only what `triage/app.py` put on `app.state`, so a route depends on what a caller
is, never on how tokens are checked: app.py wires `triage.auth` in as `authenticate`.
"""

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from triage.caller import Caller, require_role
from triage.config import Settings
from triage.errors import InvalidInput, parse_body
from triage.lifecycle.codes import Role
from triage.rule_sources import RuleSources

Clock = Callable[[], datetime]
M = TypeVar("M", bound=BaseModel)


def system_clock() -> datetime:
    return datetime.now(UTC)


class Authenticate(Protocol):
    """How a bearer token becomes a caller (401 without a current token)."""

    def __call__(self, session: Session, *, token: str | None, now: datetime) -> Caller: ...


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: committed when the handler returns, else rolled back.

    Opening a session does no I/O (it connects on first use), so it happens inline; only the
    commit or rollback goes to the thread pool: one hop instead of two.
    """
    session: Session = request.app.state.session_factory()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_end, session, commit=False)
        raise
    await run_in_threadpool(_end, session, commit=True)


async def get_reports_session(
    request: Request, main: Annotated[Session, Depends(get_session, scope="function")]
) -> AsyncIterator[Session]:
    """The reports' session: the request's own (main database), or a read of the replica."""
    if not request.app.state.reports_on_replica:
        yield main
        return
    session: Session = request.app.state.reports_session_factory()
    try:
        yield session
    finally:
        await run_in_threadpool(_end, session, commit=False)


def _end(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


# Pure dependencies are `async` so FastAPI runs them inline instead of hopping to the
# thread pool once each (measured by benchmarks/intake.py).
async def get_now(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock()


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_rules(request: Request) -> RuleSources:
    rules: RuleSources = request.app.state.rules
    return rules


# scope="function": commit before the answer is sent, so a 200 means the change is stored.
DbSession = Annotated[Session, Depends(get_session, scope="function")]
ReportsSession = Annotated[Session, Depends(get_reports_session, scope="function")]
Now = Annotated[datetime, Depends(get_now)]
AppSettings = Annotated[Settings, Depends(get_settings)]
Rules = Annotated[RuleSources, Depends(get_rules)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
BearerToken = Annotated[str | None, Depends(oauth2_scheme)]


def current_caller(request: Request, session: DbSession, now: Now, token: BearerToken) -> Caller:
    """The signed-in caller (401 without a current bearer token)."""
    authenticate: Authenticate = request.app.state.authenticate
    return authenticate(session, token=token, now=now)


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def allow_roles(*roles: Role) -> Callable[[Caller], Any]:
    """A dependency answering 403 before anything else is read, for a role never allowed.

    Build each once (the aliases below): FastAPI resolves a dependency once per request, so
    a route and its scope dependency share one check.
    """
    allowed = frozenset(roles)

    async def check(caller: CurrentCaller) -> Caller:  # pure: runs inline, no thread hop
        return require_role(caller, allowed)

    return check


triage_only = allow_roles(Role.triage)
triage_or_provider = allow_roles(Role.triage, Role.provider)
triage_or_admin = allow_roles(Role.triage, Role.admin)
admin_only = allow_roles(Role.admin)
admin_or_provider = allow_roles(Role.admin, Role.provider)
report_readers = allow_roles(Role.commissioner, Role.admin)
TriageOnly = Annotated[Caller, Depends(triage_only)]
TriageOrProvider = Annotated[Caller, Depends(triage_or_provider)]
TriageOrAdmin = Annotated[Caller, Depends(triage_or_admin)]
AdminOnly = Annotated[Caller, Depends(admin_only)]
AdminOrProvider = Annotated[Caller, Depends(admin_or_provider)]
ReportReader = Annotated[Caller, Depends(report_readers)]


async def raw_body(request: Request) -> bytes:
    return await request.body()


def body_after(model: type[M], checked: Any) -> Any:
    """A dependency answering the request body as `model` (422 naming each bad field),
    resolved only after `checked` (a caller's role, a referral's scope), so the order of
    answers stays 401, 403, 404, 422, 409: FastAPI's own body parsing would answer 422 first.
    """

    async def parse(payload: Annotated[bytes, Depends(raw_body)], _: checked) -> M:
        return parse_body(model, payload)

    return Depends(parse)


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI text for a JSON body that a route reads through `body_after`."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _query_names(dependant: Any) -> frozenset[str]:
    """Every query parameter a route takes, its dependencies' included."""
    names: set[str] = set()
    waiting = [dependant]
    while waiting:
        current = waiting.pop()
        names.update(field.alias for field in current.query_params)
        waiting.extend(current.dependencies)
    return frozenset(names)


_TAKES: dict[int, frozenset[str]] = {}


def check_query(request: Request) -> None:
    """A query parameter the route does not take is a 422 naming it: a typo'd filter must
    not quietly return everything."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    takes = _TAKES.get(id(route))
    if takes is None:
        takes = _TAKES[id(route)] = _query_names(dependant)
    for name in request.query_params:
        if name not in takes:
            raise InvalidInput(
                f"unknown query parameter; this route takes: {', '.join(sorted(takes)) or 'none'}",
                field=("query", name),
            )


async def no_unknown_query(request: Request) -> None:
    """`check_query` as the last parameter of every API route, so the caller, its role and
    the referral's scope are checked first (401, 403, 404 before 422)."""
    check_query(request)


NoUnknownQuery = Annotated[None, Depends(no_unknown_query)]
