"""Reports read from a replica (TRIAGE_REPORTS_DATABASE_URL, DESIGN 8): no fold first, and
the answer is as of the last fold the primary made."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import Api, FakeClock
from triage.app import create_app
from triage.config import Settings
from triage.reports.fold import fold_pending

DAY = {"from": "2026-11-24", "to": "2026-11-24"}


@pytest.fixture
def replica(settings: Settings, clock: FakeClock, client: Any) -> Iterator[TestClient]:
    """A second app whose reports read "a replica": here the same database, so what it shows
    is what the rollups hold, not what a fold at request time would add."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("read replicas are PostgreSQL's (SQLite has one writer and one file)")
    app = create_app(
        settings.model_copy(update={"reports_database_url": settings.database_url}), clock=clock
    )
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


def received(replica: TestClient, reader: Api) -> Any:
    answer = replica.get("/api/reports/conversion", params=DAY, headers=reader.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return body["stages"][0]["count"], body["as_of"]


class TestReportsOnAReplica:
    def test_shows_the_rollups_as_of_the_last_fold(
        self,
        replica: TestClient,
        triage: Api,
        sign_in: Any,
        clock: FakeClock,
        session_factory: Any,
        settings: Settings,
    ) -> None:
        reader = sign_in("commissioner")
        for _ in range(6):
            triage.create()
        count, _ = received(replica, reader)
        assert count == 0  # nothing folded yet, and a replica does not fold
        folded_at = clock.advance(minutes=1)
        fold_pending(session_factory, now=folded_at, settings=settings)
        clock.advance(minutes=5)
        count, as_of = received(replica, reader)
        assert (count, as_of) == (6, folded_at.isoformat())

    def test_the_primary_folds_first_and_is_as_of_now(
        self, client: Any, triage: Api, sign_in: Any, clock: FakeClock
    ) -> None:
        for _ in range(6):
            triage.create()
        answer = sign_in("commissioner").get("/api/reports/conversion", params=DAY).json()
        assert (answer["stages"][0]["count"], answer["as_of"]) == (6, clock().isoformat())
