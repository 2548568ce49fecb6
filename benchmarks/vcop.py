"""Victims' Code evaluation per referral, in process, for generated referrals.

    .venv/bin/python benchmarks/vcop.py [--referrals 100000]

Evaluates every right of the edition in force (enhanced grounds, working-day clocks with
England's bank holidays, met/late/breached) for each generated referral, and in the same run
a baseline: two bare due dates per referral that skip weekends only (no holidays, no cut-off,
no statuses). Target (issue 17): under 20 us per referral.
"""

import argparse
import platform
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from triage.lifecycle.codes import CrimeType
from triage.rule_sources import load_editions
from triage.vcop.calendar import WorkingCalendar
from triage.vcop.editions import edition_in_force
from triage.vcop.rights import VcopFacts, evaluate

VCOP = Path(__file__).resolve().parents[1] / "routing_rules" / "vcop"


def generated(count: int, seed: int = 5) -> list[VcopFacts]:
    rng = random.Random(seed)
    crimes = [c.value for c in CrimeType]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    referrals = []
    for _ in range(count):
        reported = start + timedelta(minutes=rng.randint(0, 2 * 365 * 24 * 60))
        received = reported + timedelta(hours=rng.randint(0, 96))
        contact = received + timedelta(hours=rng.randint(1, 240)) if rng.random() < 0.8 else None
        referrals.append(
            VcopFacts(
                crime_type=rng.choice(crimes),
                received_at=received,
                crime_reported_at=None if rng.random() < 0.05 else reported,
                hate_crime=rng.random() < 0.08,
                age=rng.randint(8, 90),
                intimidated=rng.random() < 0.05,
                contact_made_at=contact,
                opted_out=rng.random() < 0.03,
            )
        )
    return referrals


def bare_due(started: datetime, days: int) -> datetime:
    day = started.date()
    while days:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return datetime.combine(day, datetime.max.time(), tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--referrals", type=int, default=100_000)
    args = parser.parse_args()
    referrals = generated(args.referrals)
    editions, calendar = load_editions(VCOP), WorkingCalendar()
    now = datetime(2027, 1, 1, tzinfo=UTC)
    in_force = [
        edition_in_force(editions, (f.crime_reported_at or f.received_at).date()) for f in referrals
    ]
    timings: dict[str, list[float]] = {"evaluate": [], "baseline": []}
    for _ in range(3):
        started = time.perf_counter()
        for facts, edition in zip(referrals, in_force, strict=True):
            evaluate(edition, facts, now=now, calendar=calendar)
        timings["evaluate"].append(time.perf_counter() - started)
        started = time.perf_counter()
        for facts in referrals:
            bare_due(facts.crime_reported_at or facts.received_at, 5)
            bare_due(facts.crime_reported_at or facts.received_at, 2)
        timings["baseline"].append(time.perf_counter() - started)
    each = min(timings["evaluate"]) / len(referrals) * 1e6
    base = min(timings["baseline"]) / len(referrals) * 1e6
    statuses: dict[str, int] = {}
    for facts, edition in zip(referrals[:20_000], in_force, strict=False):
        for right in evaluate(edition, facts, now=now, calendar=calendar).rights:
            statuses[right.status] = statuses.get(right.status, 0) + 1
    print(
        f"python {platform.python_version()} on {platform.machine()}, {len(referrals):,} referrals"
    )
    print(f"evaluate: {each:6.1f} us per referral (every right, best of 3)")
    print(f"baseline: {base:6.1f} us per referral (two due dates, weekends only)")
    print(f"statuses in the first 20,000: {dict(sorted(statuses.items()))}")
    print(f"ratio: {each / base:.1f}x the baseline")
    print("PASS" if each < 20 else "FAIL", "(target: under 20 us per referral)")


if __name__ == "__main__":
    main()
