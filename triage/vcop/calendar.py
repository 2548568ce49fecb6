"""Working days in England, for the Victims' Code clocks (pure: pass instants in).

Working days exclude Saturdays, Sundays and England's bank holidays (including one-off days
such as a coronation), taken from the `holidays` package for subdivision ENG, never the whole
UK. Instants are timezone-aware; days are reckoned in Europe/London, so clock changes move
nothing. A clock started at or after the cut-off (17:00 by default), or on a day that is not a
working day, starts on the next working day; that start day is day 0.
"""

from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

END_OF_DAY = time(23, 59, 59)


@cache
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


class WorkingCalendar:
    """Working-day arithmetic; `due_at` remembers its answers by (local day, after the
    cut-off, days), all an answer depends on: a few thousand over years of referrals."""

    remembered = 50_000  # due times kept at most (about 10 MB); then forgotten at once

    def __init__(self, timezone: str = "Europe/London", cutoff: time = time(17, 0)) -> None:
        self.zone = ZoneInfo(timezone)
        self.cutoff = cutoff
        self._due: dict[tuple[int, bool, int], datetime] = {}

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in _bank_holidays(day.year)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def start_day(self, instant: datetime) -> date:
        """Day 0 of a clock started at `instant`."""
        local = instant.astimezone(self.zone)
        day = local.date()
        if not self.is_working_day(day) or local.time() >= self.cutoff:
            return self.next_working_day(day)
        return day

    def add_working_days(self, day: date, n: int) -> date:
        """The nth working day after `day` (`day` itself for n = 0)."""
        if n < 0:
            raise ValueError("n must not be negative")
        for _ in range(n):
            day = self.next_working_day(day)
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (negative if `end` is earlier)."""
        if end < start:
            return -self.working_days_between(end, start)
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count

    def end_of(self, day: date) -> datetime:
        """23:59:59 on `day` in local time, as an aware instant."""
        return datetime.combine(day, END_OF_DAY, tzinfo=self.zone)

    def due_at(self, started: datetime, working_days: int) -> datetime:
        """When a clock of `working_days` started at `started` falls due."""
        local = started.astimezone(self.zone)
        key = (local.toordinal(), local.time() >= self.cutoff, working_days)
        due = self._due.get(key)
        if due is None:
            if len(self._due) >= self.remembered:
                self._due.clear()
            due = self._due[key] = self.end_of(
                self.add_working_days(self.start_day(started), working_days)
            )
        return due
