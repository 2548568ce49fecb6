"""Reports over the API: hand-computed small histories, roles, formats and suppression."""

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.api.flows import held, ok
from tests.support import Api, FakeClock

OUTCOMES = {"better_able_to_cope": True, "feel_safer": True}
DAY = {"from": "2026-11-24", "to": "2026-11-24"}


def supported(triage: Api, worker: Api, **create: Any) -> dict[str, Any]:
    ref = held(triage, worker, **create)
    return ok(
        worker.event(
            ref["id"], "close", ref["version"], reason="support_completed", outcomes=OUTCOMES
        )
    )


def stages(answer: dict[str, Any]) -> dict[str, Any]:
    return {s["stage"]: s["count"] for s in answer["stages"]}


@pytest.fixture
def commissioner(sign_in: Any) -> Api:
    return sign_in("commissioner")


@pytest.fixture
def worker(sign_in: Any) -> Api:
    return sign_in("provider", "core-general")


@pytest.fixture
def history(triage: Api, worker: Api, clock: FakeClock) -> None:
    """Six burglaries supported to the end, six only received, one duplicate, all today;
    five violence referrals supported."""
    for _ in range(6):
        clock.advance(minutes=5)
        supported(triage, worker)
    for _ in range(6):
        triage.create()
    duplicate = triage.create()
    ok(triage.event(duplicate["id"], "close", duplicate["version"], reason="duplicate"))
    for _ in range(5):
        supported(triage, worker, crime_type="violence")


class TestConversionReport:
    def test_counts_each_stage_once_per_referral_and_sets_exclusions_beside(
        self, commissioner: Api, history: None
    ) -> None:
        answer = ok(commissioner.get("/api/reports/conversion", params=DAY))
        assert stages(answer) == {
            "received": 17,
            "contacted": 11,
            "assessed": 11,
            "referred": 11,
            "accepted": 11,
            "supported": 11,
        }
        assert answer["excluded"] == {"duplicate": "<5", "out_of_area": 0}
        contacted = answer["stages"][1]
        assert contacted["rate_of_received"] == round(11 / 17, 4)
        assert contacted["rate_of_previous"] == round(11 / 17, 4)

    def test_groups_by_crime_type_with_their_own_stages(
        self, commissioner: Api, history: None
    ) -> None:
        answer = ok(
            commissioner.get("/api/reports/conversion", params={**DAY, "group_by": "crime_type"})
        )
        groups = {g["key"]: g for g in answer["groups"]}
        assert set(groups) == {"burglary", "violence"}
        assert stages(groups["burglary"]) == {
            "received": 12, "contacted": 6, "assessed": 6,
            "referred": 6, "accepted": 6, "supported": 6,
        }  # fmt: skip
        assert stages(groups["violence"])["supported"] == 5
        assert groups["burglary"]["excluded"]["duplicate"] == "<5"

    def test_times_between_stages_are_whole_hours(self, commissioner: Api, history: None) -> None:
        answer = ok(commissioner.get("/api/reports/conversion", params=DAY))
        timings = {(t["from"], t["to"]): t for t in answer["timings"]}
        # Every step of these histories happened within the same hour.
        assert timings[("received", "contacted")]["median_hours"] == 0
        assert timings[("accepted", "supported")]["p90_hours"] == 0

    def test_a_cohort_outside_the_period_is_empty(self, commissioner: Api, history: None) -> None:
        answer = ok(
            commissioner.get(
                "/api/reports/conversion", params={"from": "2026-10-01", "to": "2026-10-31"}
            )
        )
        assert set(stages(answer).values()) == {0}
        assert all(s["rate_of_received"] is None for s in answer["stages"])


class TestSuppression:
    def test_a_group_of_one_to_four_is_hidden_and_a_sibling_with_it(
        self, commissioner: Api, triage: Api, worker: Api
    ) -> None:
        for _ in range(7):
            triage.create()
        for _ in range(2):
            triage.create(crime_type="theft")
        for _ in range(9):
            triage.create(crime_type="fraud")
        answer = ok(
            commissioner.get("/api/reports/conversion", params={**DAY, "group_by": "crime_type"})
        )
        received = {g["key"]: stages(g)["received"] for g in answer["groups"]}
        # theft (2) is "<5"; burglary (7), the smaller of the rest, is hidden so that the
        # total (18) less fraud cannot give theft's count.
        assert received == {"burglary": "*", "fraud": 9, "theft": "<5"}
        assert stages(answer)["received"] == 18


class TestRoles:
    @pytest.mark.parametrize("path", ["conversion", "vcop-compliance", "moj-return", "providers"])
    def test_triage_and_provider_workers_may_not_read_reports(
        self, path: str, triage: Api, worker: Api, client: Any
    ) -> None:
        assert triage.get(f"/api/reports/{path}").status_code == 403
        assert worker.get(f"/api/reports/{path}").status_code == 403
        assert client.get(f"/api/reports/{path}").status_code == 401

    def test_admins_read_reports(self, sign_in: Any) -> None:
        assert sign_in("admin").get("/api/reports/conversion").status_code == 200


class TestBadInput:
    def test_from_after_to_names_the_field(self, commissioner: Api) -> None:
        answer = commissioner.get(
            "/api/reports/conversion", params={"from": "2026-02-01", "to": "2026-01-01"}
        )
        assert answer.status_code == 422
        assert "from" in answer.text

    def test_an_unknown_grouping_is_refused(self, commissioner: Api) -> None:
        answer = commissioner.get("/api/reports/conversion", params={"group_by": "postcode"})
        assert answer.status_code == 422
        assert "group_by" in answer.text

    def test_a_slice_of_one_crime_type_and_area(self, commissioner: Api, history: None) -> None:
        params = {**DAY, "crime_type": "violence", "area": "derby_city"}
        answer = ok(commissioner.get("/api/reports/conversion", params=params))
        assert stages(answer) == {"received": 5, "contacted": 5, "assessed": 5, "referred": 5,
                                  "accepted": 5, "supported": 5}  # fmt: skip
        assert (answer["area"], answer["crime_type"]) == ("derby_city", "violence")
        elsewhere = {**params, "area": "derbyshire_county"}
        answer = ok(commissioner.get("/api/reports/conversion", params=elsewhere))
        assert stages(answer)["received"] == 0

    def test_a_slice_is_grouped_by_month_at_most(self, commissioner: Api) -> None:
        params = {"crime_type": "violence", "group_by": "provider"}
        answer = commissioner.get("/api/reports/conversion", params=params)
        assert answer.status_code == 422
        assert "group_by" in answer.text

    def test_an_unknown_area_is_refused(self, commissioner: Api) -> None:
        answer = commissioner.get("/api/reports/vcop-compliance", params={"area": "atlantis"})
        assert answer.status_code == 422
        assert "area" in answer.text

    def test_a_malformed_quarter_is_refused(self, commissioner: Api) -> None:
        answer = commissioner.get("/api/reports/moj-return", params={"quarter": "2026-Q3"})
        assert answer.status_code == 422
        assert "quarter" in answer.text


class TestFormats:
    def test_csv_has_the_json_rows_and_marks(self, commissioner: Api, history: None) -> None:
        answer = commissioner.get("/api/reports/conversion", params={**DAY, "format": "csv"})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        by_measure = {r["measure"]: r for r in rows if r["group"] == "all"}
        assert by_measure["received"]["count"] == "17"
        assert by_measure["excluded:duplicate"]["count"] == "<5"

    def test_xlsx_opens_with_the_same_rows(self, commissioner: Api, history: None) -> None:
        answer = commissioner.get("/api/reports/conversion", params={**DAY, "format": "xlsx"})
        assert answer.status_code == 200
        sheet = load_workbook(io.BytesIO(answer.content)).active
        rows = list(sheet.iter_rows(values_only=True))
        header = rows[0]
        first = dict(zip(header, rows[1], strict=True))
        assert (first["group"], first["measure"], first["count"]) == ("all", "received", 17)


class TestMojReturn:
    def test_counts_the_quarters_activity(
        self, commissioner: Api, history: None, clock: FakeClock
    ) -> None:
        answer = ok(commissioner.get("/api/reports/moj-return", params={"quarter": "2026Q4"}))
        assert answer["received_by_source"] == {"total": 18, "police": 18}
        assert answer["received_by_crime_type"] == {
            "total": 18, "burglary": 13, "violence": 5,
        }  # fmt: skip
        assert answer["referred_by_crime_type"]["total"] == 11
        assert answer["supported_by_crime_type"] == {
            "total": 11, "burglary": 6, "violence": 5,
        }  # fmt: skip
        assert answer["closed_from_support"]["cases"] == 11
        outcomes = answer["closed_from_support"]["outcomes"]
        assert outcomes["feel_safer"] == {"count": 11, "share": 1.0}
        assert outcomes["satisfied"] == {"count": 0, "share": 0.0}

    def test_an_earlier_quarter_has_nothing(self, commissioner: Api, history: None) -> None:
        answer = ok(commissioner.get("/api/reports/moj-return", params={"quarter": "2026Q3"}))
        assert answer["received_by_source"] == {"total": 0}


class TestProviderPerformance:
    def test_offers_and_answers_per_provider(self, commissioner: Api, history: None) -> None:
        answer = ok(commissioner.get("/api/reports/providers", params=DAY))
        rows = {r["provider"]: r for r in answer["providers"]}
        general = rows["core-general"]
        assert (general["made"], general["accepted"], general["acceptance_rate"]) == (11, 11, 1.0)
        assert general["annual_volume"] == 6000
        assert general["expected_in_period"] == round(6000 / 365, 1)


class TestVcopCompliance:
    def test_rights_met_at_receipt_and_on_contact(self, commissioner: Api, history: None) -> None:
        answer = ok(
            commissioner.get(
                "/api/reports/vcop-compliance", params={"from": "2026-11-01", "to": "2026-12-31"}
            )
        )
        rights = {(r["right"], r["edition"]): r for r in answer["rights"]}
        assert rights[("R4", "2021")]["met_in_time"] == 18
        referral_item = next(
            i for i in answer["force_return"] if i["item"] == "referral_to_support_services"
        )
        assert referral_item["known"] is True
        updates = next(i for i in answer["force_return"] if i["item"] == "updates")
        assert updates["known"] is False

    def test_a_slice_counts_its_own_referrals(self, commissioner: Api, history: None) -> None:
        params = {"from": "2026-11-01", "to": "2026-12-31", "crime_type": "violence"}
        answer = ok(commissioner.get("/api/reports/vcop-compliance", params=params))
        rights = {(r["right"], r["edition"]): r for r in answer["rights"]}
        assert rights[("R4", "2021")]["met_in_time"] == 5


class TestVcopBreaches:
    def test_a_right_unmet_after_its_day_is_breached_and_before_it_pending(
        self, sign_in: Any, triage: Api, clock: FakeClock
    ) -> None:
        for _ in range(5):
            triage.create()
        for _ in range(6):
            ref = triage.create()
            ok(triage.event(ref["id"], "contact_made", ref["version"], channel="phone"))
        period = {"from": "2026-11-01", "to": "2026-12-31"}

        def r3() -> dict[str, Any]:
            answer = ok(sign_in("commissioner").get("/api/reports/vcop-compliance", params=period))
            return next(r for r in answer["rights"] if (r["right"], r["edition"]) == ("R3", "2021"))

        before = r3()
        assert (before["due"], before["met_in_time"], before["pending"], before["breached"]) == (
            11, 6, 5, 0,
        )  # fmt: skip
        assert before["met_in_time_rate"] == 1.0
        clock.advance(days=10)  # reported on the 23rd: five working days have ended
        after = r3()
        assert (after["met_in_time"], after["pending"], after["breached"]) == (6, 0, 5)
        assert after["met_in_time_rate"] == round(6 / 11, 4)


class TestGroupings:
    def test_a_referral_with_two_strands_is_in_both_groups(
        self, commissioner: Api, triage: Api
    ) -> None:
        for _ in range(5):
            triage.create(hate_strands=["race", "religion"])
        for _ in range(6):
            triage.create()
        answer = ok(
            commissioner.get("/api/reports/conversion", params={**DAY, "group_by": "hate_strand"})
        )
        received = {g["key"]: stages(g)["received"] for g in answer["groups"]}
        assert received == {"none": 6, "race": 5, "religion": 5}

    def test_by_provider_is_the_provider_last_offered(
        self, commissioner: Api, history: None
    ) -> None:
        answer = ok(
            commissioner.get("/api/reports/conversion", params={**DAY, "group_by": "provider"})
        )
        received = {g["key"]: stages(g)["received"] for g in answer["groups"]}
        assert received == {"core-general": 11, "none": 6}

    def test_by_month_of_receipt(self, commissioner: Api, history: None) -> None:
        answer = ok(
            commissioner.get(
                "/api/reports/conversion",
                params={"from": "2026-11-01", "to": "2026-12-31", "group_by": "month"},
            )
        )
        assert [(g["key"], stages(g)["received"]) for g in answer["groups"]] == [("2026-11", 17)]


class TestProviderDeclines:
    def test_declines_and_expiries_are_counted_with_their_reasons(
        self, sign_in: Any, triage: Api, worker: Api, clock: FakeClock, settings: Any,
        rules: Any, session_factory: Any,
    ) -> None:  # fmt: skip
        from tests.api.flows import offered
        from triage.deadlines.sweeps import expire_overdue_offers

        for _ in range(5):
            ref = offered(triage)
            ok(worker.event(ref["id"], "decline", ref["version"], reason="no_capacity"))
        for _ in range(6):
            offered(triage)
        clock.advance(hours=80)
        expire_overdue_offers(session_factory, now=clock(), rules=rules, settings=settings)
        answer = ok(
            sign_in("commissioner").get(
                "/api/reports/providers", params={"from": "2026-11-24", "to": "2026-11-30"}
            )
        )
        general = next(r for r in answer["providers"] if r["provider"] == "core-general")
        assert (general["made"], general["declined"], general["expired"]) == (11, 5, 6)
        assert general["decline_reasons"] == {"no_capacity": 5}
        assert general["acceptance_rate"] == 0.0


class TestExportColumns:
    @pytest.mark.parametrize(
        ("path", "empty", "full"),
        [
            ("conversion", {"from": "2019-01-01", "to": "2019-01-31"}, {"to": "2026-12-31"}),
            ("vcop-compliance", {"from": "2019-01-01", "to": "2019-01-31"}, {"to": "2026-12-31"}),
            ("moj-return", {"quarter": "2019Q1"}, {"quarter": "2026Q4"}),
            ("providers", {"from": "2019-01-01", "to": "2019-01-31"}, {"to": "2026-12-31"}),
        ],
    )
    def test_an_empty_period_gives_the_header_row_and_the_same_columns(
        self, commissioner: Api, history: None, path: str, empty: dict, full: dict
    ) -> None:
        def csv(params: dict[str, str]) -> list[str]:
            answer = commissioner.get(f"/api/reports/{path}", params={**params, "format": "csv"})
            assert answer.status_code == 200, answer.text
            return answer.text.splitlines()

        quiet, busy = csv(empty), csv(full)
        assert len(busy) > 1  # the history has rows in the full period
        assert quiet[0] == busy[0] and quiet[0].count(",") >= 3
