from tests.support import Api


class TestWholePath:
    def test_a_referral_walks_from_received_to_closed(self, triage: Api, sign_in) -> None:
        provider = sign_in("provider", provider="core-general")
        ref = triage.create()
        rid = ref["id"]
        ref = triage.event(
            rid, "log_contact_attempt", ref["version"], channel="phone", outcome="no_answer"
        ).json()
        assert ref["state"] == "contacting"
        ref = triage.event(rid, "contact_made", ref["version"], channel="phone").json()
        ref = triage.assess(rid, ref["version"]).json()
        ref = triage.event(rid, "route", ref["version"], provider="core-general").json()
        assert ref["state"] == "awaiting_provider"
        hidden = provider.get(f"/api/referrals/{rid}").json()
        assert hidden["victim"] is None and hidden["victim_restricted"] is True
        assert hidden["allowed_events"] == ["accept", "decline"]
        ref = provider.event(rid, "accept", ref["version"]).json()
        assert ref["state"] == "in_support" and ref["victim"]["full_name"] == "Olivia Hartley"
        ref = provider.event(
            rid, "close", ref["version"], reason="support_completed", outcomes={"feel_safer": True}
        ).json()
        assert ref["state"] == "closed"
        history = triage.get(f"/api/referrals/{rid}/history").json()["events"]
        transitions = [e["action"] for e in history if e["to_state"] != e["from_state"]]
        assert transitions == [
            "create",
            "log_contact_attempt",
            "contact_made",
            "route",
            "accept",
            "close",
        ]
