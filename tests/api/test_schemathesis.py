"""schemathesis over the published OpenAPI document, in process (DESIGN 12, issue 14): every
operation, as every role and without a token, never answers a 5xx, and every answer is one
the document declares, in the shape and type it declares.

`make test` runs a small budget of generated examples per operation (SCHEMATHESIS_EXAMPLES,
default 5; each sent as all six callers); `make test-slow` runs a large one with the coverage
phase (boundary values), and the stateful run that follows the document's links.
"""

import os
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import get_client
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support import FakeClock
from triage.app import create_app
from triage.auth.models import Token, User
from triage.auth.passwords import new_token, token_digest
from triage.config import Settings
from triage.db import transaction
from triage.providers.models import Provider

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ROLES = ("triage", "provider", "commissioner", "admin", "intake")
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "5"))
Mint = Callable[[str], str]
# Per operation and caller: cases seen, the refused, the token in use; answers by status.
SENT: Counter[tuple[str, str | None]] = Counter()
REFUSED: set[tuple[str, str | None]] = set()
TOKENS: dict[tuple[str, str], str] = {}
ANSWERS: Counter[int] = Counter()


# The document as published; each test sends its cases to the app of its own database.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="sqlite:////nonexistent/schema.db", scheduler=False)).openapi()
)
# The coverage phase (boundary values of every field and parameter, the undeclared methods)
# is the most telling and the most costly (4,666 requests a backend against 332 without it):
# make test-slow takes it (SCHEMATHESIS_COVERAGE=1); make test fuzzes only.
schema.config.phases.coverage.enabled = os.environ.get("SCHEMATHESIS_COVERAGE", "0") == "1"


@pytest.fixture
def mint(session_factory: sessionmaker[Session], clock: FakeClock, providers: list[str]) -> Mint:
    """A fresh bearer token for a user of the role, written straight to the database: a
    token per call, since DELETE /api/auth/token revokes the one sent, and no password
    check (argon2 is not what this test is about)."""
    users: dict[str, int] = {}
    with transaction(session_factory) as session:
        core = session.scalar(select(Provider.id).where(Provider.code == "core-general"))
        for role in ROLES:
            provider_id = core if role == "provider" else None
            user = User(username=f"st-{role}", password_hash="-", role=role, active=True,
                        provider_id=provider_id, created_at=clock())  # fmt: skip
            session.add(user)
            session.flush()
            users[role] = user.id

    def _mint(role: str) -> str:
        token = new_token()
        with transaction(session_factory) as session:
            session.add(Token(token_hash=token_digest(token), user_id=users[role],
                              created_at=clock(), expires_at=clock() + timedelta(hours=8),
                              revoked_at=None))  # fmt: skip
        return token

    return _mint


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_as_every_caller(case: Any, asgi: Any, mint: Mint) -> None:
    """Each case as every caller; a caller the operation refuses (401, 403: answered before
    the body is read, whatever it holds) is sent every tenth case only."""
    label = case.operation.label
    revokes = label == "DELETE /api/auth/token"
    for role in (None, *ROLES):
        key = (label, role)
        SENT[key] += 1
        if key in REFUSED and SENT[key] % 10:
            continue
        headers = {}
        if role is not None:
            if revokes or (label, role) not in TOKENS:
                TOKENS[label, role] = mint(role)
            headers["Authorization"] = f"Bearer {TOKENS[label, role]}"
        answer = case.call_and_validate(session=asgi, headers=headers, checks=CHECKS)
        ANSWERS[answer.status_code] += 1
        if answer.status_code in (401, 403):
            REFUSED.add(key)


@pytest.fixture
def asgi(client: TestClient) -> Any:
    """One in-process client for the test's examples, on the app of its database."""
    return get_client(client.app)


@pytest.fixture(autouse=True)
def _fresh_callers() -> Iterator[None]:
    TOKENS.clear()
    REFUSED.clear()
    yield


def teardown_module() -> None:
    """The figures for the record: requests sent, by status."""
    print(f"\nschemathesis: {sum(ANSWERS.values())} requests, {len(SENT)} operation x caller"
          f" pairs; answers {dict(sorted(ANSWERS.items()))}")  # fmt: skip


@pytest.mark.slow
def test_stateful_walks_along_the_links(asgi: Any, mint: Mint) -> None:
    """Sequences that follow the document's links (a referral created, then read, assessed,
    fired at...), as the triage unit: no 5xx, every answer as documented."""
    token = mint("triage")

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"session": asgi, "headers": {"Authorization": f"Bearer {token}"}}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            ANSWERS[response.status_code] += 1
            case.validate_response(response, checks=CHECKS)

    Workflow.run(
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
