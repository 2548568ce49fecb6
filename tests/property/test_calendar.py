"""Properties of the working-day calendar, and the days that make calendars go wrong."""

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from triage.vcop.calendar import WorkingCalendar

calendar = WorkingCalendar()
days = st.dates(min_value=date(2015, 1, 1), max_value=date(2030, 12, 31))
instants = st.datetimes(
    min_value=datetime(2015, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
counts = st.integers(min_value=0, max_value=30)


class TestAddingWorkingDays:
    @given(days, st.integers(min_value=1, max_value=30))
    def test_adding_one_or_more_lands_on_a_working_day(self, day, n):
        assert calendar.is_working_day(calendar.add_working_days(day, n))

    @given(days, counts, counts)
    def test_adding_more_never_lands_earlier(self, day, n, m):
        low, high = sorted((n, m))
        assert calendar.add_working_days(day, low) <= calendar.add_working_days(day, high)

    @given(days, days, counts)
    def test_a_later_start_never_falls_due_earlier(self, a, b, n):
        early, late = sorted((a, b))
        assert calendar.add_working_days(early, n) <= calendar.add_working_days(late, n)

    @given(days, counts)
    def test_counting_inverts_adding(self, day, n):
        assert calendar.working_days_between(day, calendar.add_working_days(day, n)) == n

    @given(days, days)
    def test_counting_is_antisymmetric(self, a, b):
        assert calendar.working_days_between(a, b) == -calendar.working_days_between(b, a)


class TestClockStarts:
    @given(instants)
    def test_day_zero_is_always_a_working_day_not_before_the_local_date(self, instant):
        start = calendar.start_day(instant)
        assert calendar.is_working_day(start)
        assert start >= instant.astimezone(calendar.zone).date()

    @given(instants, counts)
    @settings(max_examples=200)
    def test_a_clock_falls_due_at_the_end_of_a_local_day(self, instant, n):
        due = calendar.due_at(instant, n).astimezone(calendar.zone)
        assert (due.hour, due.minute, due.second) == (23, 59, 59)
        assert due > instant


class TestRememberedDueTimes:
    """`due_at` remembers by (local day, after the cut-off, days): its answers equal the
    day-by-day reckoning, whatever was asked before and whatever the zone and cut-off."""

    @given(st.lists(st.tuples(instants, st.sampled_from((0, 1, 2, 5, 10))), max_size=40))
    def test_remembered_answers_equal_the_reckoning(self, asked):
        remembering = WorkingCalendar()
        for instant, n in asked + asked:  # each asked twice: the second from memory
            reckoned = calendar.end_of(calendar.add_working_days(calendar.start_day(instant), n))
            assert remembering.due_at(instant, n) == reckoned

    def test_the_zone_and_cut_off_are_part_of_each_answer(self):
        friday = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)  # 15:30 in London, 10:30 in NY
        assert WorkingCalendar(cutoff=time(15, 0)).due_at(friday, 0).date() == date(2026, 11, 30)
        assert WorkingCalendar().due_at(friday, 0).date() == date(2026, 11, 27)
        new_york = WorkingCalendar("America/New_York")
        assert new_york.due_at(friday, 0).utcoffset() == timedelta(hours=-5)

    def test_it_forgets_everything_when_full(self):
        small = WorkingCalendar()
        small.remembered = 3
        start = datetime(2026, 1, 5, 9, tzinfo=UTC)
        for k in range(7):
            instant = start + timedelta(days=k)
            assert small.due_at(instant, 1) == calendar.due_at(instant, 1)
            assert len(small._due) <= 3


def at_london(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=calendar.zone)


class TestNamedDays:
    def test_friday_before_five_counts_friday_as_day_zero(self):
        assert calendar.start_day(at_london(2026, 11, 27, 16, 59)) == date(2026, 11, 27)

    def test_friday_at_five_starts_on_monday(self):
        assert calendar.start_day(at_london(2026, 11, 27, 17, 0)) == date(2026, 11, 30)

    def test_christmas_eve_skips_christmas_boxing_day_and_the_weekend(self):
        # 2026: Christmas is a Friday, Boxing Day a Saturday (observed Monday 28th).
        assert calendar.due_at(at_london(2026, 12, 24, 10), 1).date() == date(2026, 12, 29)

    def test_easter_skips_good_friday_and_easter_monday(self):
        assert calendar.due_at(at_london(2026, 4, 2, 10), 1).date() == date(2026, 4, 7)

    def test_the_coronation_bank_holiday_is_not_a_working_day(self):
        assert not calendar.is_working_day(date(2023, 5, 8))
        assert calendar.add_working_days(date(2023, 5, 5), 1) == date(2023, 5, 9)

    def test_scottish_bank_holidays_are_working_days_in_england(self):
        assert calendar.is_working_day(date(2026, 1, 2))  # 2 January: Scotland only
        assert calendar.is_working_day(date(2026, 11, 30))  # St Andrew's Day: Scotland only

    def test_the_spring_clock_change_moves_no_day(self):
        # Clocks go forward at 01:00 GMT on Sunday 29 March 2026.
        before = datetime(2026, 3, 27, 16, 30, tzinfo=UTC)  # Friday 16:30 GMT
        due = calendar.due_at(before, 1)
        assert due.astimezone(calendar.zone).date() == date(2026, 3, 30)
        assert due.utcoffset() == timedelta(hours=1)

    def test_the_autumn_clock_change_moves_no_day(self):
        # Clocks go back on Sunday 25 October 2026; 16:30 UTC on Friday is 17:30 BST.
        friday_evening = datetime(2026, 10, 23, 16, 30, tzinfo=UTC)
        assert calendar.start_day(friday_evening) == date(2026, 10, 26)
        assert calendar.due_at(friday_evening, 0).utcoffset() == timedelta(0)
