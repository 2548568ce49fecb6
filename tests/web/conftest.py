"""People signed in to the pages (each with their own cookies) on the test app."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.support import PASSWORD, FakeClock
from tests.web.browser import Person, new_username
from triage.auth.service import add_user
from triage.db import transaction
from triage.lifecycle.codes import Role

Visit = Callable[..., Person]


@pytest.fixture
def person(client: TestClient, session_factory: sessionmaker[Session], clock: FakeClock) -> Visit:
    """Add a user with a role (and provider) and sign them in through the sign-in page."""

    def _person(role: str, provider: str | None = None) -> Person:
        username = new_username(role)
        with transaction(session_factory) as session:
            add_user(session, username=username, password=PASSWORD, role=Role(role),
                     provider_code=provider, now=clock())  # fmt: skip
        return Person(client, username)

    return _person
