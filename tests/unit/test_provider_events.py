"""Which events each role may fire (DESIGN section 4, "allowed_events")."""

import pytest

from triage.lifecycle.codes import EVENTS_BY_ROLE, HTTP_EVENTS, Event, Role, State
from triage.lifecycle.guards import ReferralFacts
from triage.referrals.context import provider_events


def offered_to(code: str | None) -> ReferralFacts:
    return ReferralFacts(state=State.awaiting_provider, open_offer_provider=code)


def held_by(code: str | None) -> ReferralFacts:
    return ReferralFacts(state=State.in_support, holder_provider=code)


class TestProviderEvents:
    def test_the_provider_with_the_open_offer_may_accept_or_decline_it(self):
        assert provider_events(offered_to("VSD"), "VSD") == {Event.accept, Event.decline}

    def test_another_provider_may_not_answer_someone_elses_offer(self):
        assert provider_events(offered_to("VSD"), "SVS") == frozenset()

    def test_the_holder_may_hand_back_or_close_its_case(self):
        assert provider_events(held_by("VSD"), "VSD") == {Event.hand_back, Event.close}

    def test_another_provider_may_not_hand_back_or_close_someone_elses_case(self):
        assert provider_events(held_by("VSD"), "SVS") == frozenset()

    def test_a_provider_without_a_code_may_fire_nothing(self):
        assert provider_events(offered_to("VSD"), None) == frozenset()
        assert provider_events(held_by("VSD"), None) == frozenset()

    def test_a_provider_without_a_code_gets_nothing_where_there_is_no_offer_or_holder(self):
        assert provider_events(ReferralFacts(state=State.assessing), None) == frozenset()

    def test_a_referral_with_neither_an_offer_nor_a_holder_gives_a_provider_nothing(self):
        assert provider_events(ReferralFacts(state=State.assessing), "VSD") == frozenset()

    @pytest.mark.parametrize("facts", [offered_to("VSD"), held_by("VSD")], ids=["offered", "held"])
    def test_a_provider_never_fires_expire_or_route(self, facts):
        events = provider_events(facts, "VSD")
        assert Event.expire not in events
        assert Event.route not in events


class TestEventsByRole:
    def test_triage_fires_everything_but_the_providers_events_and_the_services_own(self):
        service_only = {Event.expire, Event.consent_withdrawn}
        provider_only = {Event.accept, Event.decline, Event.hand_back}
        assert EVENTS_BY_ROLE[Role.triage] == set(Event) - service_only - provider_only

    def test_a_provider_fires_accept_decline_hand_back_and_close(self):
        assert EVENTS_BY_ROLE[Role.provider] == {
            Event.accept,
            Event.decline,
            Event.hand_back,
            Event.close,
        }

    def test_nobody_fires_expire_over_http(self):
        assert Event.expire not in HTTP_EVENTS

    @pytest.mark.parametrize("role", [Role.commissioner, Role.admin, Role.intake])
    def test_roles_without_case_work_fire_nothing(self, role):
        assert role not in EVENTS_BY_ROLE
