"""The provider directory: everyone reads it, admins edit it, and every edit is audited."""

from typing import Any

import pytest

from tests.api.flows import ok
from tests.support import Api

NEW_PROVIDER: dict[str, Any] = {
    "code": "peak-victims",
    "name": "Peak District Victim Support",
    "services": ["general"],
    "areas": ["derbyshire_county"],
    "contact_channels": ["phone"],
    "respond_by_hours": 48,
    "accepting": True,
    "funding": {"grant_ref": "PCC-GR-2026-01", "annual_volume": 120},
}


class TestReadingTheDirectory:
    @pytest.mark.parametrize("role", ["triage", "commissioner", "admin", "intake"])
    def test_every_signed_in_role_lists_the_directory(self, sign_in, role) -> None:
        items = ok(sign_in(role).get("/api/providers"))["items"]
        assert {"core-general", "da-idva", "mental-health-hub"} <= {p["code"] for p in items}

    def test_an_unknown_code_answers_404(self, triage: Api) -> None:
        assert triage.get("/api/providers/no-such-service").status_code == 404


class TestEditingTheDirectory:
    def test_an_admin_adds_a_provider_and_the_change_is_audited(
        self, sign_in, session_factory
    ) -> None:
        admin = sign_in("admin")
        created = admin.post("/api/providers", NEW_PROVIDER)
        assert created.status_code == 201, created.text
        assert ok(admin.get("/api/providers/peak-victims"))["areas"] == ["derbyshire_county"]
        assert admin.post("/api/providers", NEW_PROVIDER).status_code == 409
        from sqlalchemy import select

        from triage.audit.models import AuditEvent

        with session_factory() as session:
            actions = list(session.scalars(select(AuditEvent.action)))
        assert "provider_created" in actions

    def test_an_admin_replaces_an_entry_but_not_its_code(self, sign_in) -> None:
        admin = sign_in("admin")
        ok(admin.post("/api/providers", NEW_PROVIDER), 201)
        changed = ok(
            admin.put("/api/providers/peak-victims", {**NEW_PROVIDER, "respond_by_hours": 24})
        )
        assert changed["respond_by_hours"] == 24
        renamed = admin.put("/api/providers/peak-victims", {**NEW_PROVIDER, "code": "other"})
        assert renamed.status_code == 422

    def test_an_unknown_area_or_service_is_refused_naming_the_field(self, sign_in) -> None:
        admin = sign_in("admin")
        bad_area = admin.post("/api/providers", {**NEW_PROVIDER, "areas": ["atlantis"]})
        assert bad_area.status_code == 422 and "areas" in bad_area.json()["detail"][0]["loc"]
        bad_service = admin.post("/api/providers", {**NEW_PROVIDER, "services": ["tea"]})
        assert bad_service.status_code == 422

    def test_the_oldest_age_may_not_be_below_the_youngest(self, sign_in) -> None:
        admin = sign_in("admin")
        ages = {**NEW_PROVIDER, "min_age": 18, "max_age": 11}
        answer = admin.post("/api/providers", ages)
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"][-1] == "max_age"
        assert admin.post("/api/providers", {**ages, "max_age": 18}).status_code == 201

    @pytest.mark.parametrize("role", ["triage", "commissioner", "intake"])
    def test_other_roles_may_not_edit(self, sign_in, role) -> None:
        caller = sign_in(role)
        assert caller.post("/api/providers", NEW_PROVIDER).status_code == 403
        assert caller.put("/api/providers/core-general", NEW_PROVIDER).status_code == 403
