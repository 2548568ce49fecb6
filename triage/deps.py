"""Dependencies shared by every router: the request's transaction, the clock, settings."""

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from triage.config import Settings

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


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


# scope="function": commit before the answer is sent, so a 200 means the change is stored.
DbSession = Annotated[Session, Depends(get_session, scope="function")]
ReportsSession = Annotated[Session, Depends(get_reports_session, scope="function")]
Now = Annotated[datetime, Depends(get_now)]
AppSettings = Annotated[Settings, Depends(get_settings)]
