"""Signing in and out: every way of answering 401, and what a token is good for."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.support import PASSWORD, Api, referral_body
from triage.auth.models import Token
from triage.auth.passwords import token_digest
from triage.auth.service import RememberedCallers, add_user, set_active
from triage.caller import SYSTEM
from triage.db import transaction
from triage.errors import NotAuthenticated
from triage.lifecycle.codes import Role


class TestWithoutAValidToken:
    def test_every_route_answers_401_with_no_token(self, client) -> None:
        rid = uuid.uuid4()
        for method, path in [
            ("GET", "/api/referrals"),
            ("POST", "/api/referrals"),
            ("GET", f"/api/referrals/{rid}"),
            ("PUT", f"/api/referrals/{rid}/assessment"),
            ("PUT", f"/api/referrals/{rid}/consent"),
            ("POST", f"/api/referrals/{rid}/events/contact_made"),
            ("GET", f"/api/referrals/{rid}/history"),
            ("GET", "/api/providers"),
            ("DELETE", "/api/auth/token"),
        ]:
            answer = client.request(method, path, json={"version": 1})
            assert answer.status_code == 401, (method, path, answer.text)
            assert answer.headers["www-authenticate"] == "Bearer"
            assert set(answer.json()) == {"detail"}

    def test_a_token_nobody_was_given_answers_401(self, client) -> None:
        answer = client.get("/api/referrals", headers={"Authorization": "Bearer not-a-token"})
        assert answer.status_code == 401, answer.text

    def test_a_token_of_another_scheme_answers_401(self, client) -> None:
        answer = client.get("/api/referrals", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert answer.status_code == 401, answer.text

    def test_an_expired_token_answers_401(self, triage: Api, clock) -> None:
        assert triage.get("/api/referrals").status_code == 200
        clock.advance(hours=7, minutes=59)
        assert triage.get("/api/referrals").status_code == 200
        clock.advance(minutes=1)
        answer = triage.get("/api/referrals")
        assert answer.status_code == 401, answer.text

    def test_a_revoked_token_answers_401(self, triage: Api) -> None:
        assert triage.delete("/api/auth/token").status_code == 204
        answer = triage.get("/api/referrals")
        assert answer.status_code == 401, answer.text
        assert triage.post("/api/referrals", referral_body()).status_code == 401

    def test_revoking_one_token_leaves_the_users_other_tokens_working(
        self, client, sign_in
    ) -> None:
        first = sign_in("triage", username="worker-two-tokens")
        answer = client.post(
            "/api/auth/token", data={"username": "worker-two-tokens", "password": PASSWORD}
        )
        second = Api(client, answer.json()["access_token"])
        assert first.delete("/api/auth/token").status_code == 204
        assert first.get("/api/referrals").status_code == 401
        assert second.get("/api/referrals").status_code == 200

    def test_401_comes_before_403_for_a_role_that_may_never_use_the_route(self, sign_in) -> None:
        commissioner = sign_in("commissioner")
        assert commissioner.get("/api/referrals").status_code == 403
        commissioner.delete("/api/auth/token")
        assert commissioner.get("/api/referrals").status_code == 401


class TestSigningIn:
    def test_answers_a_bearer_token(self, client, sign_in) -> None:
        sign_in("triage", username="signing-in")
        answer = client.post(
            "/api/auth/token", data={"username": "signing-in", "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        token = answer.json()
        assert token["token_type"] == "bearer"
        assert token["access_token"]
        assert token["expires_at"].startswith("2026-11-24T18:00:00")

    def test_a_wrong_password_answers_401(self, client, sign_in) -> None:
        sign_in("triage", username="wrong-password")
        answer = client.post(
            "/api/auth/token", data={"username": "wrong-password", "password": "not-it-at-all"}
        )
        assert answer.status_code == 401, answer.text
        assert "access_token" not in answer.text

    def test_an_unknown_user_answers_the_same_401(self, client, sign_in) -> None:
        sign_in("triage", username="known-user")
        wrong = client.post(
            "/api/auth/token", data={"username": "known-user", "password": "not-it-at-all"}
        )
        unknown = client.post(
            "/api/auth/token", data={"username": "nobody-at-all", "password": PASSWORD}
        )
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()

    def test_a_form_without_a_password_answers_422(self, client) -> None:
        answer = client.post("/api/auth/token", data={"username": "someone"})
        assert answer.status_code == 422, answer.text
        assert any("password" in e["loc"] for e in answer.json()["detail"])


class TestRememberedCallers:
    """A server remembers a token's caller for `token_cache_seconds` (ADR 21)."""

    def test_a_token_revoked_elsewhere_is_refused_once_the_window_has_passed(
        self, triage: Api, session_factory, clock, settings
    ) -> None:
        assert triage.get("/api/referrals").status_code == 200
        with transaction(session_factory) as session:  # as another server or the CLI would
            session.execute(update(Token).values(revoked_at=clock()))
        assert triage.get("/api/referrals").status_code == 200  # remembered
        clock.advance(seconds=settings.token_cache_seconds)
        assert triage.get("/api/referrals").status_code == 401

    def test_a_user_disabled_in_this_process_is_refused_at_once(
        self, sign_in, session_factory, clock
    ) -> None:
        worker = sign_in("triage", username="worker-to-disable")
        assert worker.get("/api/referrals").status_code == 200
        with transaction(session_factory) as session:  # as the admin page does
            set_active(session, caller=SYSTEM, username="worker-to-disable", active=False,
                       now=clock())  # fmt: skip
        assert worker.get("/api/referrals").status_code == 401

    def test_never_past_the_tokens_own_expiry(self, triage: Api, clock) -> None:
        clock.advance(hours=7, minutes=59, seconds=59)
        assert triage.get("/api/referrals").status_code == 200  # remembered for 2 s more
        clock.advance(seconds=1)
        assert triage.get("/api/referrals").status_code == 401

    def test_with_no_window_every_request_looks_its_token_up(
        self, session_factory, clock, settings
    ) -> None:
        token = "a-token-for-the-test"
        with transaction(session_factory) as session:
            user = add_user(session, username="looked-up", password=PASSWORD,
                            role=Role.triage, provider_code=None, now=clock())  # fmt: skip
            session.flush()
            expires = clock() + timedelta(hours=1)
            session.add(Token(user_id=user.id, token_hash=token_digest(token),
                              created_at=clock(), expires_at=expires))  # fmt: skip
        callers = RememberedCallers(0)
        with transaction(session_factory) as session:
            assert callers(session, token=token, now=clock()).username == "looked-up"
            session.execute(update(Token).values(revoked_at=clock()))
            with pytest.raises(NotAuthenticated):
                callers(session, token=token, now=clock())
