"""Small-number suppression for commissioners' aggregates (DESIGN 5).

A count from 1 to 4 is shown as "<5" (primary). Where cells add up to a total that is shown,
a single hidden cell could be worked out by subtraction, so a second one is hidden as "*"
(secondary): the smallest other cell, or the total itself when no other cell is left. This
repeats until no line has exactly one hidden cell under a visible total.
"""

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

PRIMARY, SECONDARY = "<5", "*"


@dataclass(frozen=True)
class Line:
    """Cells that add up to `total` (a cell too, or None where the total is not shown)."""

    total: Hashable | None
    parts: Sequence[Hashable]


def suppress(values: Mapping[Hashable, int], lines: Sequence[Line]) -> dict[Hashable, str]:
    """The cells to hide and how: "<5" for counts of 1 to 4, "*" to protect them."""
    marks: dict[Hashable, str] = {cell: PRIMARY for cell, v in values.items() if 1 <= v <= 4}
    changed = True
    while changed:
        changed = False
        for line in lines:
            if line.total is None or line.total in marks:
                continue
            hidden = [cell for cell in line.parts if cell in marks]
            if len(hidden) != 1:
                continue
            shown = [cell for cell in line.parts if cell not in marks]
            # Prefer hiding a non-zero cell (a zero hidden beside it protects less).
            shown.sort(key=lambda cell: (values[cell] == 0, values[cell]))
            marks[shown[0] if shown else line.total] = SECONDARY
            changed = True
    return marks


def shown(value: int, cell: Hashable, marks: Mapping[Hashable, str]) -> int | str:
    """The value as published: the count, or its mark."""
    return marks.get(cell, value)


def rate(
    numerator: tuple[int, Hashable],
    denominator: tuple[int, Hashable],
    marks: Mapping[Hashable, str],
) -> float | None:
    """A rate, or None where it would use a hidden count or divide by nothing."""
    (top, top_cell), (bottom, bottom_cell) = numerator, denominator
    if top_cell in marks or bottom_cell in marks or bottom == 0:
        return None
    return round(top / bottom, 4)
