"""The conversion report's answers are reused while the rollups' generation holds (issue 17):
the same question asked again is answered from memory, and any change that reaches the
rollups (a fold, a rebuild) is in the very next answer."""

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.api.flows import ok
from tests.support import Api, FakeClock
from triage.config import Settings
from triage.reports import conversion, fold
from triage.reports import service as report_service


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Each time the conversion report is computed, not remembered."""
    calls: list[Any] = []
    real = conversion.conversion

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("group_by"))
        return real(*args, **kwargs)

    monkeypatch.setattr(conversion, "conversion", counted)
    monkeypatch.setattr(report_service, "_CONVERSIONS", report_service._Remembered(64))
    return calls


def test_asked_again_it_is_remembered_and_a_change_is_never_missed(
    triage: Api, sign_in: Any, clock: FakeClock, computed: list[Any],
    session_factory: sessionmaker[Session], settings: Settings,
) -> None:  # fmt: skip
    reader = sign_in("commissioner")
    triage.create()
    path = "/api/reports/conversion?group_by=crime_type"
    first = ok(reader.get(path))
    clock.advance(minutes=5)
    again = ok(reader.get(path))
    assert len(computed) == 1  # the second from memory
    assert again["as_of"] != first["as_of"] and {**again, "as_of": None} == {
        **first, "as_of": None}  # fmt: skip

    for _ in range(5):  # enough to show as a number, not "<5"
        triage.create(crime_type="burglary")
    changed = ok(reader.get(path))
    assert len(computed) == 2  # the fold on reading changed the rollups: computed again
    burglary = next(g for g in changed["groups"] if g["key"] == "burglary")
    assert burglary["stages"][0]["count"] >= 5

    ok(reader.get("/api/reports/conversion?group_by=month"))  # another question
    assert len(computed) == 3
    fold.rebuild(session_factory, now=clock(), settings=settings)
    assert ok(reader.get(path))["groups"] == changed["groups"]
    assert len(computed) == 4  # a rebuild is a new generation too


def test_what_is_handed_out_is_a_copy(computed: list[Any]) -> None:
    answer, _ = report_service._CONVERSIONS.put(("g", 1), ({"groups": [1]}, []))
    answer["groups"].append(2)
    kept = report_service._CONVERSIONS.get(("g", 1))
    assert kept is not None and kept[0] == {"groups": [1]}
    assert report_service._CONVERSIONS.get((None, 1)) is None
