"""The hate crime spike test: Poisson upper tail against the baseline, with a minimum count."""

import math

import pytest

from triage.deadlines.spikes import judge_spike, poisson_upper_tail


class TestPoissonTail:
    def test_matches_the_closed_form(self):
        expected = 1 - math.exp(-1) * (1 + 1 + 1 / 2 + 1 / 6 + 1 / 24)
        assert poisson_upper_tail(5, 1.0) == pytest.approx(expected)

    def test_at_least_zero_is_certain(self):
        assert poisson_upper_tail(0, 3.0) == 1.0

    def test_the_tail_shrinks_as_the_count_grows(self):
        tails = [poisson_upper_tail(k, 2.0) for k in range(1, 12)]
        assert tails == sorted(tails, reverse=True)


class TestJudgeSpike:
    def test_twelve_against_a_baseline_of_two_a_week_is_a_spike(self):
        verdict = judge_spike(12, [2, 1, 3, 2, 2, 1, 2, 3], p=0.01, min_count=5)
        assert verdict.spike and verdict.expected == 2.0 and verdict.p_value < 1e-4

    def test_a_busy_but_ordinary_week_is_not(self):
        assert not judge_spike(4, [2, 1, 3, 2, 2, 1, 2, 3], p=0.01, min_count=5).spike

    def test_below_the_minimum_count_is_never_a_spike(self):
        assert not judge_spike(4, [0] * 8, p=0.01, min_count=5).spike

    def test_an_empty_baseline_is_floored_not_zero(self):
        verdict = judge_spike(5, [0] * 8, p=0.01, min_count=5)
        assert verdict.expected == 0.5 and verdict.spike
