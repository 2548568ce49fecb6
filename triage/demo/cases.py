"""The rows a simulated referral leaves: its case, once `Simulation` has walked its history
to where it ends (the referral as the service leaves it, the current line of each right)."""

import random
from datetime import datetime, timedelta

from triage.demo import draws
from triage.demo.rows import Case, EntitlementCheckRow, ReferralRow
from triage.demo.simulate import Simulation
from triage.demo.world import World
from triage.referrals.service import REFERENCE_ALPHABET
from triage.referrals.urgency import contact_due, urgent_at
from triage.vcop.rights import NOT_TRACKED, PENDING, Evaluation
from triage.vcop.rights import evaluate as evaluate_rights


def make_case(world: World, rng: random.Random, number: int) -> Case:
    """Referral `number`'s whole history and rows."""
    simulation = Simulation(world, rng, number)
    simulation.run()
    case = simulation.case
    referral = referral_row(simulation)  # its draws come before the checks'
    case.checks = check_rows(simulation)
    case.referral = referral._replace(urgent_at=urgent(simulation, case.checks))
    return case


def urgent(simulation: Simulation, checks: list[EntitlementCheckRow]) -> datetime | None:
    """When the referral next falls due, as the service keeps it (referrals/urgency.py)."""
    open_offer = simulation.open_offer
    attempts = [a.at for a in simulation.case.attempts if not a.made_contact]
    hours = simulation.world.settings.contact_standard_hours
    return urgent_at(
        state=simulation.state,
        contact=contact_due(simulation.received_at, attempts, hours),
        rights=((c.status, c.due_at) for c in checks),
        respond_by=open_offer.respond_by if open_offer else None,
    )


def reference(number: int, year: int) -> str:
    """`VR-26-…`: eight characters from a bijection of the number, so never two alike."""
    code = (number * 0x9E3779B97F + 0x5DEECE66D) % (1 << 40)
    chars = "".join(REFERENCE_ALPHABET[(code >> (5 * i)) & 31] for i in range(8))
    return f"VR-{year % 100:02d}-{chars}"


def referral_row(simulation: Simulation) -> ReferralRow:
    """The referral as the service leaves it after the history's last event."""
    world, rng, victim = simulation.world, simulation.rng, simulation.victim
    person = victim.person
    reason, outcomes, closed_at = simulation.closure or (None, None, None)
    holder = world.provider_ids[simulation.holder] if simulation.holder else None
    return ReferralRow(
        id=simulation.referral_id,
        reference=reference(simulation.number, simulation.received_at.year),
        source=simulation.source,
        external_ref=simulation.external_ref,
        idempotency_key=None,
        request_hash="",
        created_by=world.intake.user_id,
        area=simulation.area,
        crime_type=simulation.crime_type,
        hate_strands=list(simulation.hate_strands),
        crime_reported_at=simulation.reported_at,
        received_at=simulation.received_at,
        victim_full_name=person.full_name,
        victim_name_key=person.name_key,
        victim_date_of_birth=simulation.born_on,
        victim_phone=victim.phone,
        victim_phone_key=victim.phone_key,
        victim_email=person.email if victim.has_email else None,
        victim_address=person.address,
        victim_postcode=person.postcode,
        safe_channels=rng.sample(["phone", "sms", "email"], 2),  # drawn before safe_times
        safe_times=rng.choice(draws.SAFE_TIMES),
        language="en",
        notes=None,
        state=simulation.state,
        version=simulation.version,
        holder_provider_id=holder,
        vcop_edition=simulation.edition.edition,
        enhanced=bool(simulation.enhanced_reasons),
        enhanced_reasons=list(simulation.enhanced_reasons),
        closure_reason=reason,
        outcomes=outcomes,
        closed_at=closed_at,
        updated_at=simulation.updated_at,
        reported_version=simulation.version,
        urgent_at=None,  # see urgent(), once the checks are made
        returned_at=simulation.returned_at,
    )


def check_rows(simulation: Simulation) -> list[EntitlementCheckRow]:
    """The current line of each tracked right: the evaluation after the last event, or
    the deadline sweep's once a right it left pending fell due before `now`."""
    world = simulation.world
    facts = simulation.vcop_facts()
    action, actor = simulation.last
    at = simulation.updated_at
    evaluation = evaluate_rights(simulation.edition, facts, now=at, calendar=world.calendar)
    trigger, checked_by = action, actor.user_id
    overdue = [r.due_at for r in evaluation.rights if r.status == PENDING and r.due_at]
    overdue = [due for due in overdue if due < world.now]
    if overdue:
        at = min(max(overdue) + timedelta(seconds=simulation.rng.uniform(1, 60)), world.now)
        evaluation = evaluate_rights(simulation.edition, facts, now=at, calendar=world.calendar)
        trigger, checked_by = "deadline_sweep", None
    return _check_lines(simulation, evaluation, trigger, checked_by, at)


def _check_lines(
    simulation: Simulation,
    evaluation: Evaluation,
    trigger: str,
    checked_by: int | None,
    at: datetime,
) -> list[EntitlementCheckRow]:
    evidence = {"action": trigger, "version": simulation.version}
    return [
        EntitlementCheckRow(
            simulation.referral_id,
            right.right,
            evaluation.edition,
            right.status,
            right.due_at,
            right.met_at,
            right.reason,
            trigger,
            evidence,
            checked_by,
            at,
            True,
        )  # fmt: skip
        for right in evaluation.rights
        if right.status != NOT_TRACKED
    ]
