"""Routing decisions for stored referrals: inputs, live provider status, storage, explanation."""

from dataclasses import asdict, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from triage.assessment.rules import risk_level
from triage.auth.service import Caller
from triage.config import Settings
from triage.errors import InvalidInput
from triage.lifecycle.codes import VULNERABILITY_FLAGS, OfferAnswer, State
from triage.providers import service as provider_service
from triage.providers.models import Provider
from triage.providers.service import area_codes
from triage.referrals import repository
from triage.referrals.context import ReferralContext
from triage.referrals.models import Offer, Referral
from triage.referrals.people import age_on
from triage.routing.engine import Decision, Engine, ProviderStatus, RoutingInput
from triage.routing.models import RoutingDecision
from triage.routing.rules import load_rule_set
from triage.routing.schemas import CandidateRead, RoutingPreview, RoutingRead, SkipRead


def rule_set_dir(settings: Settings) -> Path:
    return Path(settings.rules_dir) / settings.rule_set


def current_engine(settings: Settings) -> Engine:
    """The area's rules, reloaded when either file changes on disk."""
    directory = rule_set_dir(settings)
    stamp = tuple(
        (directory / name).stat().st_mtime_ns for name in ("routing.toml", "providers.toml")
    )
    return _engine(directory, stamp)


@lru_cache(maxsize=4)
def _engine(directory: Path, stamp: tuple[int, ...]) -> Engine:
    return Engine(load_rule_set(directory))


def routing_input(context: ReferralContext) -> RoutingInput:
    """What routing may know of a stored referral and its assessment."""
    referral, assessment = context.referral, context.assessment
    return RoutingInput(
        crime_type=referral.crime_type,
        area=referral.area,
        age=age_on(referral.victim_date_of_birth, context.reference_day),
        hate_strands=frozenset(referral.hate_strands),
        care_leaver=bool(assessment and assessment.care_leaver),
        risk_level=assessment.risk_level if assessment else None,
        vulnerability=frozenset(
            flag for flag in VULNERABILITY_FLAGS if assessment and getattr(assessment, flag)
        ),
        restorative_justice_interest=bool(assessment and assessment.restorative_justice_interest),
        needs=frozenset(assessment.needs if assessment else ()),
    )


def provider_statuses(session: Session) -> dict[str, ProviderStatus]:
    """Every provider with its live availability: load is held cases plus open offers.

    Counted once per transaction (a sweep's batch decides hundreds of referrals) and kept
    exact within it by `adjust_load` as offers are made and answered.
    """
    cached: dict[str, ProviderStatus] | None = session.info.get(_STATUSES)
    if cached is None:
        providers = list(session.scalars(select(Provider)))
        session.info[_PROVIDERS] = {p.code: p for p in providers}
        cached = session.info[_STATUSES] = _count_statuses(session, providers)
    return cached


def provider_to_offer(session: Session, code: str) -> Provider:
    """The chosen provider's row: the one read with the transaction's statuses, if it was."""
    providers: dict[str, Provider] = session.info.get(_PROVIDERS, {})
    if code in providers:
        return providers[code]
    return provider_service.get_provider(session, code=code)


def adjust_load(session: Session, provider_code: str | None, delta: int) -> None:
    """Keep the transaction's counted load in step with an offer made or ended here."""
    statuses: dict[str, ProviderStatus] | None = session.info.get(_STATUSES)
    if statuses is None or provider_code not in statuses:
        return
    status = statuses[provider_code]
    statuses[provider_code] = replace(status, load=max(status.load + delta, 0))


_STATUSES = "triage.routing.provider_statuses"
_PROVIDERS = "triage.routing.providers"


def _count_statuses(session: Session, providers: list[Provider]) -> dict[str, ProviderStatus]:
    held = dict(
        session.execute(
            select(Referral.holder_provider_id, func.count())
            .where(Referral.state == State.in_support, Referral.holder_provider_id.is_not(None))
            .group_by(Referral.holder_provider_id)
        ).all()
    )
    offered = dict(
        session.execute(
            select(Offer.provider_id, func.count())
            .where(Offer.answer.is_(None))
            .group_by(Offer.provider_id)
        ).all()
    )
    return {
        p.code: ProviderStatus.of(p, load=held.get(p.id, 0) + offered.get(p.id, 0))
        for p in providers
    }


def exclusions(context: ReferralContext, rule_set_hash: str) -> dict[str, str]:
    """Providers this referral may not be offered again under this rule set, with why."""
    excluded: dict[str, str] = {}
    for offer, code in context.offers:
        if offer.rule_set_hash != rule_set_hash:
            continue
        if offer.handed_back_at is not None:
            excluded[code] = "handed_back"
        elif offer.answer == OfferAnswer.declined:
            excluded[code] = "already_declined"
        elif offer.answer == OfferAnswer.expired:
            excluded[code] = "expired"
    return excluded


def decide_for(
    session: Session,
    context: ReferralContext,
    settings: Settings,
    *,
    also_excluded: dict[str, str] | None = None,
) -> Decision:
    """A fresh decision for a stored referral under the current rules."""
    engine = current_engine(settings)
    excluded = {**exclusions(context, engine.hash), **(also_excluded or {})}
    return engine.decide(routing_input(context), provider_statuses(session), excluded)


def store_decision(
    session: Session,
    *,
    context: ReferralContext,
    decision: Decision,
    trigger: str,
    caller: Caller,
    chosen: str | None,
    by_hand: bool,
    now: datetime,
) -> RoutingDecision:
    """Keep a decision with the rule set's version and hash, in the event's transaction."""
    row = RoutingDecision(
        referral_id=context.referral.id,
        decided_at=now,
        decided_by=caller.user_id,
        trigger=trigger,
        rule_set_version=decision.rule_set_version,
        rule_set_hash=decision.rule_set_hash,
        matched_rules=list(decision.matched_rules),
        candidates=[asdict(c) for c in decision.candidates],
        skipped=[asdict(s) for s in decision.skipped],
        chosen_provider=chosen,
        by_hand=by_hand,
        rules_would_choose=decision.first,
        no_route_reason=None if chosen else decision.no_route_reason,
    )
    session.add(row)
    return row


def explain(session: Session, *, context: ReferralContext, settings: Settings) -> RoutingRead:
    """The latest stored decision, or before any route the decision computed now."""
    row = session.scalar(
        select(RoutingDecision)
        .where(RoutingDecision.referral_id == context.referral.id)
        .order_by(RoutingDecision.id.desc())
        .limit(1)
    )
    if row is None:
        return decision_view(decide_for(session, context, settings))
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
        decided_by=repository.username(session, row.decided_by),
        rules_would_choose=row.rules_would_choose,
    )


def decision_view(decision: Decision) -> RoutingRead:
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


def preview(
    session: Session, *, body: RoutingPreview, now: datetime, settings: Settings
) -> RoutingRead:
    """The decision the rules would make for a referral-shaped body; nothing is saved."""
    if body.area not in area_codes(rule_set_dir(settings) / "providers.toml"):
        raise InvalidInput(f"unknown area {body.area!r}", field=("body", "area"))
    day = (body.crime_reported_at or now).astimezone(ZoneInfo(settings.timezone)).date()
    born = body.victim.date_of_birth if body.victim else None
    a = body.assessment
    level = risk_level(a.risk.dash_score, a.risk.professional_judgement) if a else None
    shape = RoutingInput(
        crime_type=body.crime_type,
        area=body.area,
        age=age_on(born, day),
        hate_strands=frozenset(body.hate_strands),
        care_leaver=bool(a and a.care_leaver),
        risk_level=level.value if level else None,
        vulnerability=frozenset(
            flag for flag, on in (a.vulnerability.model_dump().items() if a else ()) if on
        ),
        restorative_justice_interest=bool(a and a.restorative_justice_interest),
        needs=frozenset(a.needs if a else ()),
    )
    engine = current_engine(settings)
    return decision_view(engine.decide(shape, provider_statuses(session)))
