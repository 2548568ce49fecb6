"""Dependencies shared by every router: the request's transaction, the clock, settings."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from triage.config import Settings

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, else rolled back."""
    factory = request.app.state.session_factory
    with factory() as session, session.begin():
        yield session


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
Now = Annotated[datetime, Depends(get_now)]
AppSettings = Annotated[Settings, Depends(get_settings)]
