"""Dates and times as people say them, in Europe/London: "Tuesday 8 December at 5pm"."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def clock_time(at: datetime) -> str:
    """5pm, 5:30pm, midday, midnight."""
    local = at.astimezone(LONDON)
    if (local.hour, local.minute) == (0, 0):
        return "midnight"
    if (local.hour, local.minute) == (12, 0):
        return "midday"
    hour = local.hour % 12 or 12
    suffix = "am" if local.hour < 12 else "pm"
    return f"{hour}{suffix}" if local.minute == 0 else f"{hour}:{local.minute:02d}{suffix}"


def day_in_words(day: date, today: date | None = None) -> str:
    """Tuesday 8 December (with the year when it is not this year's)."""
    words = f"{day:%A} {day.day} {day:%B}"
    if today is None or day.year != today.year:
        words += f" {day.year}"
    return words


def when(at: datetime | None, now: datetime | None = None) -> str:
    """Tuesday 8 December at 5pm; a due time at the end of a day reads 'by the end of'."""
    if at is None:
        return ""
    local = at.astimezone(LONDON)
    today = now.astimezone(LONDON).date() if now else None
    day = day_in_words(local.date(), today)
    if (local.hour, local.minute) == (23, 59):
        return f"by the end of {day}"
    return f"{day} at {clock_time(local)}"


def day_only(value: date | datetime | None, now: datetime | None = None) -> str:
    """8 December 2026."""
    if value is None:
        return ""
    day = value.astimezone(LONDON).date() if isinstance(value, datetime) else value
    return f"{day.day} {day:%B %Y}"


def iso_day(value: str) -> str:
    """'2026-07-01' as 1 July 2026."""
    return day_only(date.fromisoformat(value))


def time_left(due: datetime | None, now: datetime) -> str:
    """'2 days and 4 hours left', '40 minutes left', 'overdue by 3 hours'."""
    if due is None:
        return ""
    gap = due - now
    words = _span(abs(gap))
    return f"{words} left" if gap >= timedelta(0) else f"overdue by {words}"


def _span(gap: timedelta) -> str:
    minutes = int(gap.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours and days < 7:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if not days and not hours:
        parts.append(f"{max(minutes, 1)} minute{'s' if minutes != 1 else ''}")
    return " and ".join(parts)
