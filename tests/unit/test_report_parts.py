"""The pure parts of the reports: suppression, percentiles, periods, duration buckets."""

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from triage.reports.activity import quarter_dates
from triage.reports.facts import hours_bucket
from triage.reports.repository import spans
from triage.reports.service import last_quarter
from triage.reports.suppression import PRIMARY, SECONDARY, Line, suppress
from triage.reports.tables import percentile


class TestSuppression:
    def test_one_to_four_is_hidden_and_zero_and_five_are_shown(self) -> None:
        marks = suppress({"a": 0, "b": 1, "c": 4, "d": 5}, [])
        assert marks == {"b": PRIMARY, "c": PRIMARY}

    def test_a_lone_hidden_part_takes_the_smallest_sibling_with_it(self) -> None:
        values = {"total": 30, "a": 3, "b": 12, "c": 15}
        marks = suppress(values, [Line("total", ["a", "b", "c"])])
        assert marks == {"a": PRIMARY, "b": SECONDARY}

    def test_with_no_sibling_left_the_total_is_hidden(self) -> None:
        marks = suppress({"total": 9, "a": 3}, [Line("total", ["a"])])
        assert marks == {"a": PRIMARY, "total": SECONDARY}

    def test_a_hidden_total_protects_its_parts(self) -> None:
        marks = suppress({"total": 2, "a": 2, "b": 0}, [Line("total", ["a", "b"])])
        assert marks == {"a": PRIMARY, "total": PRIMARY}

    @given(st.lists(st.lists(st.integers(0, 12), min_size=1, max_size=6), min_size=1, max_size=5))
    def test_no_shown_total_ever_gives_away_a_hidden_count(self, table: list[list[int]]) -> None:
        """Rows add up to row totals and columns to column totals; after suppression no
        line with a shown total has exactly one hidden cell, and every 1-4 is hidden."""
        width = max(len(row) for row in table)
        grid = [row + [0] * (width - len(row)) for row in table]
        values = {(r, c): v for r, row in enumerate(grid) for c, v in enumerate(row)}
        values |= {("row", r): sum(row) for r, row in enumerate(grid)}
        values |= {("col", c): sum(row[c] for row in grid) for c in range(width)}
        lines = [Line(("row", r), [(r, c) for c in range(width)]) for r in range(len(grid))]
        lines += [Line(("col", c), [(r, c) for r in range(len(grid))]) for c in range(width)]
        marks = suppress(values, lines)
        assert all(cell in marks for cell, v in values.items() if 1 <= v <= 4)
        for line in lines:
            if line.total not in marks:
                assert sum(part in marks for part in line.parts) != 1


class TestPercentile:
    def test_nearest_rank_over_buckets(self) -> None:
        assert percentile({0: 3, 5: 3, 24: 4}, 0.5) == 5
        assert percentile({0: 3, 5: 3, 24: 4}, 0.9) == 24

    def test_fewer_than_five_durations_say_nothing(self) -> None:
        assert percentile({3: 4}, 0.5) is None


class TestPeriods:
    def test_whole_months_are_read_as_months_and_the_ends_as_days(self) -> None:
        cover = spans(date(2026, 1, 15), date(2026, 4, 10))
        assert (cover.quarters, cover.months) == ([], [date(2026, 2, 1), date(2026, 3, 1)])
        assert cover.days == [
            (date(2026, 1, 15), date(2026, 1, 31)),
            (date(2026, 4, 1), date(2026, 4, 10)),
        ]

    def test_whole_quarters_are_read_as_quarters(self) -> None:
        cover = spans(date(2025, 11, 1), date(2026, 10, 31))
        assert cover.quarters == [date(2026, 1, 1), date(2026, 4, 1), date(2026, 7, 1)]
        assert cover.months == [date(2025, 11, 1), date(2025, 12, 1), date(2026, 10, 1)]
        assert cover.days == []

    def test_by_month_never_uses_quarters(self) -> None:
        cover = spans(date(2025, 1, 1), date(2025, 12, 31), quarters=False)
        assert len(cover.months) == 12 and cover.quarters == [] and cover.days == []

    def test_quarters(self) -> None:
        assert quarter_dates("2026Q3") == (date(2026, 7, 1), date(2026, 9, 30))
        assert quarter_dates("2026Q4") == (date(2026, 10, 1), date(2026, 12, 31))
        assert last_quarter(date(2026, 11, 25)) == "2026Q3"
        assert last_quarter(date(2026, 2, 1)) == "2025Q4"


class TestDurationBuckets:
    def test_hours_then_days_then_weeks(self) -> None:
        assert hours_bucket(3600 * 5.5) == 5
        assert hours_bucket(3600 * 50) == 48
        assert hours_bucket(3600 * 24 * 70) == 24 * 70 // 168 * 168
        assert hours_bucket(-10) == 0


class TestFactsAsJson:
    def test_facts_survive_the_round_trip(self) -> None:
        import json
        from datetime import UTC, datetime, timedelta

        from triage.reports import facts as case_facts

        t = datetime(2026, 3, 1, 9, tzinfo=UTC)
        events = [
            {"action": "create", "at": t, "detail": {"source": "police", "crime_type": "theft",
             "area": "derby_city", "hate_strands": ["race"], "enhanced": False}},
            {"action": "contact_made", "at": t + timedelta(hours=3)},
            {"action": "assessment", "at": t + timedelta(hours=4), "detail": {"after": {}}},
            {"action": "route", "at": t + timedelta(hours=5), "detail": {"offered_to": "a"}},
            {"action": "decline", "at": t + timedelta(hours=6),
             "detail": {"reason": "no_capacity", "offered_to": "b"}},
            {"action": "accept", "at": t + timedelta(hours=7)},
            {"action": "hand_back", "at": t + timedelta(days=3), "detail": {"reason": "other"}},
            {"action": "close", "at": t + timedelta(days=4), "from_state": "assessing",
             "detail": {"reason": "withdrawn"}},
        ]  # fmt: skip
        facts = case_facts.fold(events, specialisms={"a": "general", "b": "hate_crime"})
        assert facts is not None
        checks = [{"right": "R3", "edition": "2021", "status": "met", "due_at": t,
                   "met_at": t, "reason": None}]  # fmt: skip
        facts = case_facts.rights(facts, checks, "Europe/London")
        stored = json.loads(json.dumps(case_facts.to_json(facts)))
        assert case_facts.from_json(stored) == facts
        assert (facts.holder, facts.support_ended_at) == ("b", t + timedelta(days=3))
        assert [o.answer for o in facts.offers] == ["declined", "accepted"]
