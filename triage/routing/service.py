"""Routing decisions kept and explained: what the rules chose, why, and what was offered.

The decision itself is the engine's (pure); the referral aggregate gathers its input and the
providers' live status (`triage.referrals.offers`) and asks for it.
"""

from dataclasses import asdict
from datetime import datetime
from uuid import UUID

from sqlalchemy.orm import Session

from triage.routing import repository
from triage.routing.engine import Decision
from triage.routing.models import RoutingDecision
from triage.routing.schemas import CandidateRead, RoutingRead, SkipRead


def store_decision(
    session: Session,
    *,
    referral_id: UUID,
    decision: Decision,
    trigger: str,
    decided_by: int | None,
    chosen: str | None,
    by_hand: bool,
    now: datetime,
) -> None:
    """Keep a decision with the rule set's version and hash, in the event's transaction."""
    repository.add_decision(
        session,
        {
            "referral_id": referral_id,
            "decided_at": now,
            "decided_by": decided_by,
            "trigger": trigger,
            "rule_set_version": decision.rule_set_version,
            "rule_set_hash": decision.rule_set_hash,
            "matched_rules": list(decision.matched_rules),
            "candidates": [asdict(c) for c in decision.candidates],
            "skipped": [asdict(s) for s in decision.skipped],
            "chosen_provider": chosen,
            "by_hand": by_hand,
            "rules_would_choose": decision.first,
            "no_route_reason": None if chosen else decision.no_route_reason,
        },
    )


def latest_decision(session: Session, *, referral_id: UUID) -> RoutingDecision | None:
    """The referral's latest stored decision, if it was ever routed."""
    return repository.latest_decision(session, referral_id)


def stored_view(row: RoutingDecision, *, decided_by: str | None) -> RoutingRead:
    """A stored decision as the API explains it."""
    return RoutingRead(
        stored=True,
        decided_at=row.decided_at,
        trigger=row.trigger,
        rule_set_version=row.rule_set_version,
        rule_set_hash=row.rule_set_hash,
        matched_rules=row.matched_rules,
        candidates=[CandidateRead(**c) for c in row.candidates],
        skipped=[SkipRead(**s) for s in row.skipped],
        no_route_reason=row.no_route_reason,
        chosen_provider=row.chosen_provider,
        by_hand=row.by_hand,
        decided_by=decided_by,
        rules_would_choose=row.rules_would_choose,
    )


def decision_view(decision: Decision) -> RoutingRead:
    """A decision computed now (nothing stored) as the API explains it."""
    return RoutingRead(
        stored=False,
        rule_set_version=decision.rule_set_version,
        rule_set_hash=decision.rule_set_hash,
        matched_rules=list(decision.matched_rules),
        candidates=[CandidateRead(**asdict(c)) for c in decision.candidates],
        skipped=[SkipRead(**asdict(s)) for s in decision.skipped],
        no_route_reason=decision.no_route_reason,
        rules_would_choose=decision.first,
    )
