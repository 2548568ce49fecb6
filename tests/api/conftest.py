"""Fixtures of the API tests: cheap password hashing, so signing in costs milliseconds.

Every API test signs in one or more users; with argon2's default cost that is a quarter of a
second each. The hashing itself is tested elsewhere, so here it runs at argon2's lowest cost.
"""

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher

from triage.auth import passwords


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)
    dummy = cheap.hash("not-a-real-password")
    monkeypatch.setattr(passwords, "_dummy_hash", lambda: dummy)
    yield
