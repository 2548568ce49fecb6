"""The dashboard's bars: a figure as a bar's length and its label. A hidden figure ("<5" or
"*") has no length; a chart is only a picture of the table beside it."""

from typing import Any


def shown(value: Any) -> str:
    """A count as the table shows it: 1,234, or its suppression mark."""
    return f"{value:,}" if isinstance(value, int) else str(value)


def funnel_bar(stage: dict[str, Any], words: dict[str, str]) -> dict[str, Any]:
    """One stage of the funnel: its count."""
    count = stage["count"]
    return {"text": words.get(stage["stage"], stage["stage"]), "shown": shown(count),
            "value": count if isinstance(count, int) else None}  # fmt: skip


def right_bar(right: dict[str, Any]) -> dict[str, Any]:
    """One right of the Code: the share met in time, out of 100."""
    rate = right["met_in_time_rate"]
    return {
        "text": f"{right['right']} ({right['edition']})",
        "shown": "–" if rate is None else f"{round(rate * 100)}%",
        "value": None if rate is None else rate * 100,
        "secondary": rate is not None and rate < 0.9,
    }
