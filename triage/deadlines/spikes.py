"""Hate crime spikes: a count per strand and area well above its recent baseline (pure part).

The test is stated and configurable: over the latest window (7 days by default) the count of
referrals with a strand in an area is compared with the mean of the same window over the
previous 8 windows; it is a spike when a Poisson variable with that mean would reach the
count with probability below `p` (0.01), and the count is at least `min_count` (5).
"""

import math
from dataclasses import dataclass

# A quiet baseline of zero would make any single referral "significant": floor the mean.
MIN_EXPECTED = 0.5


@dataclass(frozen=True)
class SpikeTest:
    count: int
    expected: float
    p_value: float
    spike: bool


def poisson_upper_tail(count: int, mean: float) -> float:
    """P(X >= count) for X ~ Poisson(mean)."""
    if count <= 0:
        return 1.0
    term = math.exp(-mean)
    below = term
    for k in range(1, count):
        term *= mean / k
        below += term
    return max(0.0, 1.0 - below)


def judge_spike(count: int, baseline: list[int], *, p: float, min_count: int) -> SpikeTest:
    expected = max(sum(baseline) / len(baseline), MIN_EXPECTED) if baseline else MIN_EXPECTED
    p_value = poisson_upper_tail(count, expected)
    return SpikeTest(count, expected, p_value, count >= min_count and p_value < p)
