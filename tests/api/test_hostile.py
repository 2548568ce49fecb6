"""DESIGN 12 at the edge: oversized and broken bodies, errors that never echo what was sent,
nothing unplanned answered as more than a plain 500 (issue 14). One test per class found."""

import json
import logging
from typing import Any

import pytest

from tests.support import Api, referral_body

SECRET = "Zelda Quartermaine-Fotheringay"


class TestBodies:
    def test_a_body_over_one_mebibyte_is_refused_unread(self, triage: Api) -> None:
        body = referral_body(notes="x" * (1024 * 1024))
        answer = triage.post("/api/referrals", body)
        assert answer.status_code == 413
        assert "limit" in answer.json()["detail"]

    def test_a_body_just_under_the_limit_is_read(self, triage: Api) -> None:
        answer = triage.post("/api/referrals", referral_body(notes="x" * 4000))
        assert answer.status_code == 201

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("POST", "/api/referrals"),
            ("PUT", "/api/referrals/{id}/assessment"),
            ("PUT", "/api/referrals/{id}/consent"),
            ("POST", "/api/referrals/{id}/events/contact_made"),
            ("POST", "/api/routing/preview"),
        ],
    )
    def test_a_body_that_is_not_utf8_is_a_422(self, triage: Api, method: str, path: str) -> None:
        ref = triage.create()
        answer = triage.client.request(
            method, path.format(id=ref["id"]), content=b'{"version": 1, "x": "\\x80\x80"}',
            headers={**triage.headers, "Content-Type": "application/json"},
        )  # fmt: skip
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["msg"] == "the body is not valid JSON (UTF-8)"


class TestNoEcho:
    def test_a_422_names_the_field_but_not_the_value(self, triage: Api) -> None:
        body = referral_body(victim={"full_name": SECRET, "postcode": SECRET})
        answer = triage.post("/api/referrals", body)
        assert answer.status_code == 422
        assert SECRET not in answer.text
        assert ["body", "victim", "postcode"] in [e["loc"] for e in answer.json()["detail"]]

    def test_a_query_422_does_not_echo_either(self, triage: Api) -> None:
        answer = triage.get("/api/referrals", params={"state": SECRET})
        assert answer.status_code == 422 and SECRET not in answer.text

    def test_a_huge_invalid_body_answers_small(self, triage: Api) -> None:
        body = referral_body(victim={"full_name": SECRET * 20_000})  # about 600 KB
        answer = triage.post("/api/referrals", body)
        assert answer.status_code == 422
        assert len(answer.content) < 2_000


class TestUnplanned:
    def test_an_unplanned_error_is_a_plain_500_logged_without_its_text(
        self, triage: Api, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from triage.referrals import service

        def broken(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError(f"failed on {SECRET}")

        monkeypatch.setattr(service, "list_referrals", broken)
        with caplog.at_level(logging.ERROR, logger="triage.edge"):
            answer = triage.get("/api/referrals")
        assert answer.status_code == 500
        assert answer.json() == {"detail": "internal error"}
        assert "RuntimeError" in caplog.text and "/api/referrals" in caplog.text
        assert SECRET not in caplog.text


class TestMetrics:
    def test_a_made_up_method_is_not_a_label(self, triage: Api) -> None:
        triage.client.request("FROBNICATE", "/api/referrals")
        text = triage.client.get("/metrics").text
        assert "FROBNICATE" not in text
        assert 'method="other"' in text

    def test_metrics_are_prometheus_text(self, triage: Api) -> None:
        answer = triage.client.get("/metrics")
        assert answer.headers["content-type"].startswith("text/plain")
        json.dumps(answer.text)  # plain text, not JSON
