"""A simulated referral's remaining rows: the referral itself and its current Victims' Code
check lines, as the service leaves them after the history's last event (and after the
deadline sweep re-evaluated any right that fell due unmet since)."""

import random
from datetime import timedelta
from typing import Any

from triage.demo.simulate import Case, Sim, reference
from triage.demo.world import World
from triage.vcop.rights import NOT_TRACKED, PENDING, Evaluation, evaluate


def simulate(world: World, rng: random.Random, number: int) -> tuple[Case, Sim]:
    """Referral `number`'s whole history and rows."""
    sim = Sim(world, rng, number)
    sim.create(number)
    sim.run()
    case = sim.case
    case.referral = _referral(sim, number)
    case.checks = _checks(sim)
    return case, sim


def _referral(sim: Sim, number: int) -> tuple[Any, ...]:
    w = sim.w
    person, phone_text, phone_digits, has_email = sim.person
    reason, outcomes, closed_at = sim.closure or (None, None, None)
    holder = w.provider_ids[sim.holder] if sim.holder else None
    rng = sim.rng
    return (
        sim.id, reference(number, sim.received.year), sim.source, sim.external_ref, None, "",
        w.intake.id, sim.area, sim.crime, list(sim.strands), sim.reported, sim.received,
        person.full_name, person.name_key, sim.born, phone_text, phone_digits,
        person.email if has_email else None, person.address, person.postcode,
        rng.sample(["phone", "sms", "email"], 2),
        rng.choice((None, "weekdays 09:00-12:00", "evenings only")), "en", None,
        sim.state, sim.version, holder, sim.edition.edition, bool(sim.enhanced_reasons),
        list(sim.enhanced_reasons), reason, outcomes, closed_at, sim.updated_at, sim.version,
    )  # fmt: skip


def _checks(sim: Sim) -> list[tuple[Any, ...]]:
    """The current line of each tracked right: the evaluation after the last event, or the
    deadline sweep's once a right it left pending fell due before `now`."""
    w = sim.w
    facts = sim.vcop_facts()
    action, actor = sim.last
    at = sim.updated_at
    evaluation = evaluate(sim.edition, facts, now=at, calendar=w.calendar)
    trigger, checked_by = action, actor.id
    overdue = [r.due_at for r in evaluation.rights if r.status == PENDING and r.due_at]
    overdue = [d for d in overdue if d < w.now]
    if overdue:
        at = min(max(overdue) + timedelta(seconds=sim.rng.uniform(1, 60)), w.now)
        evaluation = evaluate(sim.edition, facts, now=at, calendar=w.calendar)
        trigger, checked_by = "deadline_sweep", None
    return _lines(sim, evaluation, trigger, checked_by, at)


def _lines(
    sim: Sim, evaluation: Evaluation, trigger: str, checked_by: int | None, at: Any
) -> list[tuple[Any, ...]]:
    evidence = {"action": trigger, "version": sim.version}
    return [
        (sim.id, r.right, evaluation.edition, r.status, r.due_at, r.met_at, r.reason, trigger,
         evidence, checked_by, at, True)
        for r in evaluation.rights
        if r.status != NOT_TRACKED
    ]  # fmt: skip
