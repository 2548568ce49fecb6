"""Typed factory functions shared by the tests (synthetic people only)."""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

PASSWORD = "correct-horse-battery"
_numbers = itertools.count(1)


class FakeClock:
    """A clock the tests move by hand instead of sleeping."""

    def __init__(self, start: datetime = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def victim(**overrides: Any) -> dict[str, Any]:
    return {
        "full_name": "Olivia Hartley",
        "date_of_birth": "1990-04-02",
        "phone": "07700 900123",
        "email": None,
        "address": "12 Friar Gate, Derby",
        "postcode": "DE1 1BX",
        "safe_channels": ["phone"],
        "safe_times": "weekdays 09:00-12:00",
        "language": "en",
        **overrides,
    }


def referral_body(**overrides: Any) -> dict[str, Any]:
    """A valid POST /api/referrals body with a fresh external reference."""
    return {
        "source": "police",
        "external_ref": f"DP-26-{next(_numbers):06d}",
        "crime_type": "burglary",
        "hate_strands": [],
        "crime_reported_at": "2026-11-23T09:30:00Z",
        "area": "derby_city",
        "victim": victim(),
        "notes": "Back door forced overnight.",
        **overrides,
    }


def assessment_body(version: int, **overrides: Any) -> dict[str, Any]:
    return {
        "version": version,
        "needs": ["emotional_support", "information_on_rights"],
        "risk": {"dash_score": None, "professional_judgement": None},
        "vulnerability": {
            "mental_disorder": False,
            "impaired_intelligence": False,
            "physical_disability": False,
            "intimidated": False,
            "persistently_targeted": False,
            "bereaved": False,
        },
        "consent": {"share_with_provider": True, "method": "verbal"},
        "restorative_justice_interest": False,
        "care_leaver": False,
        **overrides,
    }


class Api:
    """A signed-in caller: a TestClient with a bearer token and short verbs."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.headers, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.post(path, json=body, headers=headers, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.client.put(path, json=body, headers=self.headers, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.client.delete(path, headers=self.headers, **kwargs)

    def event(self, referral_id: str, event: str, version: int, **fields: Any) -> Any:
        return self.post(
            f"/api/referrals/{referral_id}/events/{event}", {"version": version, **fields}
        )

    def create(self, **overrides: Any) -> dict[str, Any]:
        answer = self.post("/api/referrals", referral_body(**overrides))
        assert answer.status_code == 201, answer.text
        return answer.json()

    def assess(self, referral_id: str, version: int, **overrides: Any) -> Any:
        return self.put(
            f"/api/referrals/{referral_id}/assessment", assessment_body(version, **overrides)
        )
