"""Fixtures of the fault tests: cheap password hashing for the apps run in this process (the
served processes hash as deployed)."""

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
