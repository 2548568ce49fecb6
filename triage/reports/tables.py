"""A report under construction: its counts, the lines they add up along, and how to show them."""

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from triage.reports import suppression


@dataclass
class Cells:
    """Counts keyed by cell, suppressed together once all are in (`seal`)."""

    values: dict[Hashable, int] = field(default_factory=dict)
    lines: list[suppression.Line] = field(default_factory=list)
    marks: dict[Hashable, str] = field(default_factory=dict)

    def put(self, cell: Hashable, value: int) -> Hashable:
        self.values[cell] = value
        return cell

    def line(self, total: Hashable | None, parts: Sequence[Hashable]) -> None:
        """`parts` add up to `total`, so hiding one alone would not hide it."""
        self.lines.append(suppression.Line(total, list(parts)))

    def seal(self) -> None:
        self.marks = suppression.suppress(self.values, self.lines)

    def show(self, cell: Hashable) -> int | str:
        return suppression.shown(self.values[cell], cell, self.marks)

    def rate(self, top: Hashable, bottom: Hashable) -> float | None:
        return suppression.rate((self.values[top], top), (self.values[bottom], bottom), self.marks)


MIN_FOR_TIMING = 5  # a median of fewer than five durations would say too much of each


def percentile(histogram: Mapping[int, int], share: float) -> int | None:
    """The nearest-rank percentile of bucketed durations: the smallest bucket with at least
    `share` of them at or below it; None for fewer than five durations."""
    total = sum(histogram.values())
    if total < MIN_FOR_TIMING:
        return None
    rank = math.ceil(share * total)
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket
    return None


def timing(histogram: Mapping[int, int], start: str, end: str) -> dict[str, Any]:
    return {
        "from": start,
        "to": end,
        "median_hours": percentile(histogram, 0.5),
        "p90_hours": percentile(histogram, 0.9),
    }
