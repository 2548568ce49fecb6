"""Simulated histories as table rows, chunk by chunk, with their contribution to the reports'
rollups summed as they are made (`triage.demo.repository` writes them)."""

import gc
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from triage.demo.cases import make_case
from triage.demo.rows import ROW_TYPES, AuditEventRow, EntitlementCheckRow, ReportCaseRow, Rows
from triage.demo.world import World
from triage.reports import facts as case_facts


def generate(
    world: World, numbers: Iterable[int], seed: int, summed: Counter[case_facts.Key]
) -> Rows:
    """Rows for referrals `numbers` (one random stream per chunk, from `seed`); their
    contributions to the rollups are added to `summed` (see `fold.to_delta`)."""
    rng = random.Random(seed)
    tables: Rows = {name: [] for name in ROW_TYPES}
    timezone = world.settings.timezone
    counted: list[case_facts.Key] = []
    with _collector_paused():
        for number in numbers:
            case = make_case(world, rng, number)
            referral = case.referral
            if referral is None:
                raise RuntimeError(f"referral {number} was simulated without its row")
            tables["referrals"].append(referral)
            tables["audit_events"] += [
                AuditEventRow(
                    referral.id,
                    e["at"],
                    e["actor"].user_id,
                    e["actor"].username,
                    e["actor"].role.value,
                    e["action"],
                    e["from_state"],
                    e["to_state"],
                    e["version"],
                    e["detail"],
                )  # fmt: skip
                for e in case.events
            ]
            tables["contact_attempts"] += case.attempts
            if case.assessment is not None:
                tables["assessments"].append(case.assessment)
            tables["offers"] += [offer.row() for offer in case.offers]
            tables["routing_decisions"] += case.decisions
            tables["entitlement_checks"] += case.checks
            facts = case_facts.fold(case.events, specialisms=world.specialisms)
            if facts is None:
                raise RuntimeError(f"referral {number} has no create event to fold")
            facts = case_facts.rights(facts, check_lines(case.checks), timezone)
            counted += case_facts.contribution_keys(facts, timezone)
            tables["report_cases"].append(
                ReportCaseRow(referral.id, referral.version, case_facts.to_json(facts), world.now)
            )
    summed.update(counted)  # each contribution summed, in one counting pass in C
    return tables


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector: a chunk makes millions of acyclic objects, and each
    collection it would trigger walks the whole growing heap (a quarter of the time). The
    objects made meanwhile then join the oldest generation unscanned (freeze and unfreeze
    move whole lists), unless the process keeps objects frozen itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if enabled:
            gc.enable()


def check_lines(checks: list[EntitlementCheckRow]) -> list[dict[str, object]]:
    """Check rows as the fold reads them (`right`, `edition`, `status`, `due_at`, ...)."""
    return [
        {
            "right": c.right,
            "edition": c.edition,
            "status": c.status,
            "due_at": c.due_at,
            "met_at": c.met_at,
            "reason": c.reason,
        }
        for c in checks
    ]
