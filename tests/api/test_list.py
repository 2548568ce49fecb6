"""Listing referrals: filters by state, crime type and provider, and paging."""

from tests.api.flows import assessing, contacting, offered, ok
from tests.support import Api


def ids(page: dict) -> list[str]:
    return [item["id"] for item in page["items"]]


class TestListFilters:
    def test_state_crime_type_and_provider_each_narrow_the_list(self, triage: Api) -> None:
        received = triage.create(crime_type="theft")
        waiting = contacting(triage, crime_type="fraud")
        to_core = offered(triage, "core-general", crime_type="theft")
        to_hate = offered(triage, "hate-crime", crime_type="public_order", hate_strands=["race"])

        page = ok(triage.get("/api/referrals", params={"state": "awaiting_provider"}))
        assert set(ids(page)) == {to_core["id"], to_hate["id"]}
        assert page["total"] == 2

        page = ok(triage.get("/api/referrals", params={"state": "contacting"}))
        assert ids(page) == [waiting["id"]]

        page = ok(triage.get("/api/referrals", params={"crime_type": "theft"}))
        assert set(ids(page)) == {received["id"], to_core["id"]}

        page = ok(triage.get("/api/referrals", params={"provider": "hate-crime"}))
        assert ids(page) == [to_hate["id"]]
        assert page["items"][0]["provider"] == "hate-crime"
        assert page["items"][0]["respond_by"] is not None

        both = {"state": "awaiting_provider", "crime_type": "theft"}
        assert ids(ok(triage.get("/api/referrals", params=both))) == [to_core["id"]]

        nobody = {"provider": "mental-health-hub"}
        assert ok(triage.get("/api/referrals", params=nobody))["total"] == 0

    def test_a_triage_worker_sees_names_in_the_list(self, triage: Api) -> None:
        ref = assessing(triage)
        item = ok(triage.get("/api/referrals"))["items"][0]
        assert item["id"] == ref["id"]
        assert item["victim_name"] == "Olivia Hartley"
        assert (item["state"], item["version"]) == ("assessing", ref["version"])

    def test_an_unknown_state_or_crime_type_answers_422(self, triage: Api) -> None:
        for params, field in (({"state": "asleep"}, "state"), ({"crime_type": "x"}, "crime_type")):
            answer = triage.get("/api/referrals", params=params)
            assert answer.status_code == 422, answer.text
            assert any(field in e["loc"] for e in answer.json()["detail"])


class TestPaging:
    def test_limit_and_offset_page_through_the_newest_first(self, triage: Api, clock) -> None:
        created = []
        for _ in range(5):
            clock.advance(minutes=1)
            created.append(triage.create()["id"])
        newest_first = list(reversed(created))

        first = ok(triage.get("/api/referrals", params={"limit": 2}))
        assert (first["total"], first["limit"], first["offset"]) == (5, 2, 0)
        assert ids(first) == newest_first[:2]

        second = ok(triage.get("/api/referrals", params={"limit": 2, "offset": 2}))
        assert ids(second) == newest_first[2:4]
        assert second["total"] == 5

        last = ok(triage.get("/api/referrals", params={"limit": 2, "offset": 4}))
        assert ids(last) == newest_first[4:]

        beyond = ok(triage.get("/api/referrals", params={"offset": 10}))
        assert (beyond["items"], beyond["total"]) == ([], 5)

    def test_the_total_counts_the_filtered_referrals_not_the_page(self, triage: Api) -> None:
        for _ in range(3):
            triage.create(crime_type="arson")
        triage.create(crime_type="fraud")
        page = ok(triage.get("/api/referrals", params={"crime_type": "arson", "limit": 1}))
        assert (len(page["items"]), page["total"]) == (1, 3)

    def test_a_limit_out_of_range_answers_422(self, triage: Api) -> None:
        for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}):
            answer = triage.get("/api/referrals", params=params)
            assert answer.status_code == 422, (params, answer.text)
