"""Routing decisions per second for generated referrals against the shipped rules, in process.

    .venv/bin/python benchmarks/routing.py [--referrals 100000]

Prints, for the same generated referrals in the same run:
- the engine (`triage.routing.engine.Engine.decide`, every matching rule, skips with reasons);
- a baseline: a bare first-match loop over 30 dict rules (what a hand-written `if` chain costs);
- loading plus validating the rule set (`triage rules check`), best of 5.
Targets (issue 4): >= 40,000 decisions/s on one core; load and validate under 200 ms.
"""

import argparse
import platform
import random
import time
from pathlib import Path

from triage.lifecycle.codes import VULNERABILITY_FLAGS, CrimeType, HateStrand, Need
from triage.routing.engine import Engine, RoutingInput, statuses_from_directory
from triage.rule_sources import check_rule_set, load_rule_set

RULES = Path(__file__).resolve().parents[1] / "routing_rules" / "derbyshire"


def generated(count: int, seed: int = 4) -> list[RoutingInput]:
    rng = random.Random(seed)
    crimes = [c.value for c in CrimeType]
    weights = [18 if c in ("domestic_abuse", "violence") else 4 for c in crimes]
    return [
        RoutingInput(
            crime_type=rng.choices(crimes, weights)[0],
            area=rng.choice(["derby_city", "derbyshire_county"]),
            age=None if rng.random() < 0.05 else rng.randint(8, 90),
            hate_strands=frozenset(
                rng.sample([s.value for s in HateStrand], rng.choice([0] * 9 + [1, 2]))
            ),
            care_leaver=rng.random() < 0.03,
            risk_level=rng.choice([None, "standard", "medium", "high"]),
            vulnerability=frozenset(rng.sample(VULNERABILITY_FLAGS, rng.choice([0, 0, 0, 1, 2]))),
            restorative_justice_interest=rng.random() < 0.1,
            needs=frozenset(rng.sample([n.value for n in Need], rng.randint(0, 3))),
        )
        for _ in range(count)
    ]


def bare_rules(count: int = 30) -> list[dict]:
    """30 dict rules of the usual shape: crime types, areas, an age range, risk levels."""
    rng = random.Random(30)
    crimes = [c.value for c in CrimeType]
    return [
        {
            "crime_types": set(rng.sample(crimes, 3)),
            "areas": {"derby_city", "derbyshire_county"},
            "min_age": rng.choice([0, 16, 18]),
            "max_age": rng.choice([17, 25, 120]),
            "risk_levels": {None, "standard", "medium", "high"} - {rng.choice(["high", "x"])},
            "provider": f"p{i}",
        }
        for i in range(count)
    ]


def bare_first_match(rules: list[dict], referral: RoutingInput) -> str:
    for rule in rules:
        if (
            referral.crime_type in rule["crime_types"]
            and referral.area in rule["areas"]
            and referral.age is not None
            and rule["min_age"] <= referral.age <= rule["max_age"]
            and referral.risk_level in rule["risk_levels"]
        ):
            return rule["provider"]
    return "general"


def per_second(count: int, seconds: float) -> float:
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--referrals", type=int, default=100_000)
    args = parser.parse_args()
    referrals = generated(args.referrals)
    rule_set = load_rule_set(RULES)
    engine, statuses = Engine(rule_set), statuses_from_directory(rule_set)
    rules = bare_rules()

    timings = {"engine": [], "bare": []}
    for _ in range(3):  # alternate so drift touches both equally; keep the best
        started = time.perf_counter()
        for referral in referrals:
            engine.decide(referral, statuses)
        timings["engine"].append(time.perf_counter() - started)
        started = time.perf_counter()
        for referral in referrals:
            bare_first_match(rules, referral)
        timings["bare"].append(time.perf_counter() - started)
    load_ms = []
    for _ in range(5):
        started = time.perf_counter()
        check_rule_set(RULES)
        load_ms.append((time.perf_counter() - started) * 1000)

    engine_rate = per_second(len(referrals), min(timings["engine"]))
    bare_rate = per_second(len(referrals), min(timings["bare"]))
    candidates = sum(len(engine.decide(r, statuses).candidates) for r in referrals[:10_000])
    print(
        f"python {platform.python_version()} on {platform.machine()}, {len(referrals):,} referrals"
    )
    print(
        f"engine:   {engine_rate:>10,.0f} decisions/s  ({1e6 / engine_rate:.1f} us each; "
        f"{candidates / 10_000:.2f} candidates per referral)"
    )
    print(f"baseline: {bare_rate:>10,.0f} decisions/s  (first match, 30 dict rules, 5 conditions)")
    print(f"engine / baseline: {engine_rate / bare_rate:.2f}")
    print(f"load + validate rule set: {min(load_ms):.1f} ms (best of 5)")
    ok = engine_rate >= 40_000 and min(load_ms) < 200
    print("PASS" if ok else "FAIL", "(targets: >= 40,000 decisions/s; load + validate < 200 ms)")


if __name__ == "__main__":
    main()
