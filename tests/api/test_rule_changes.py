"""A provider is never offered the same referral twice, unless the rules changed; the
service reads its rules once, so a change on disk takes effect at the next start."""

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.flows import assessing, conflict, ok
from tests.support import Api, FakeClock
from triage.app import create_app
from triage.config import Settings

SHIPPED = Path(__file__).resolve().parents[2] / "routing_rules"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The app reads a copy of the rules that this test may edit."""
    rules = tmp_path / "routing_rules"
    shutil.copytree(SHIPPED, rules)
    return Settings(database_url=database_url, rules_dir=rules, scheduler=False)


class TestRuleChanges:
    def test_after_the_rules_change_and_a_restart_a_declined_provider_may_be_offered_again(
        self, triage: Api, sign_in, settings: Settings, clock: FakeClock
    ) -> None:
        general = sign_in("provider", provider="core-general")
        ref = ok(triage.event((r := assessing(triage))["id"], "route", r["version"]))
        ref = ok(general.event(ref["id"], "decline", ref["version"], reason="no_capacity"))
        assert conflict(triage.event(ref["id"], "route", ref["version"]))["failed"] == [
            "no_candidate"
        ]
        routing = Path(settings.rules_dir) / "derbyshire" / "routing.toml"
        routing.write_text(
            routing.read_text().replace('version = "2026.11.1"', 'version = "2026.12.1"')
        )
        # The running service keeps the rules it started with ...
        assert conflict(triage.event(ref["id"], "route", ref["version"]))["failed"] == [
            "no_candidate"
        ]
        # ... and routes by the new ones once started again.
        restarted = create_app(settings, clock=clock)
        with TestClient(restarted) as client:
            again = Api(client, triage.headers["Authorization"].removeprefix("Bearer "))
            ref = ok(again.event(ref["id"], "route", ref["version"]))
            why = ok(again.get(f"/api/referrals/{ref['id']}/routing"))
        restarted.state.engine.dispose()
        assert why["chosen_provider"] == "core-general"
        assert why["rule_set_version"] == "derbyshire@2026.12.1+providers@2026.11.1"
