"""Liveness, readiness and Prometheus metrics, open to anyone."""

from typing import Any

from tests.support import Api


class TestHealth:
    def test_liveness_and_readiness(self, client: Any) -> None:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 200


class TestMetrics:
    def test_counts_requests_by_route_template_not_by_id(self, client: Any, triage: Api) -> None:
        ref = triage.create()
        triage.get(f"/api/referrals/{ref['id']}")
        triage.get("/api/referrals/00000000-0000-0000-0000-000000000000")
        answer = client.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        text = answer.text
        assert (
            'triage_http_requests_total{method="GET",route="/api/referrals/{referral_id}",'
            'status="200"} 1.0' in text
        )
        assert 'route="/api/referrals/{referral_id}",status="404"} 1.0' in text
        assert ref["id"] not in text
        assert (
            'triage_http_request_duration_seconds_count{method="POST",route="/api/referrals"}'
            in text
        )
