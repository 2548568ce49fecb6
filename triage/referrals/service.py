"""Use cases of the referrals domain: intake, reading, listing, the audit timeline, and why
a referral goes where it does."""

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from triage.assessment.service import answers_from
from triage.audit import service as audit
from triage.audit.models import AuditEvent
from triage.auth import service as auth_service
from triage.caller import Caller
from triage.config import Settings
from triage.errors import Conflict, Forbidden, InvalidInput
from triage.lifecycle.codes import Role, State
from triage.providers import repository as provider_repository
from triage.referrals import offers, repository
from triage.referrals.context import (
    ReferralContext,
    load,
    readable,
    reference_day,
    require_person_level,
)
from triage.referrals.inputs import routing_input, vcop_facts
from triage.referrals.models import Referral
from triage.referrals.people import age_band, age_on, name_key, phone_key
from triage.referrals.schemas import (
    AuditEventRead,
    History,
    ReferralCreate,
    ReferralListItem,
    ReferralPage,
)
from triage.referrals.urgency import contact_due, urgent_at
from triage.referrals.views import sees_person
from triage.routing import service as routing_service
from triage.routing.schemas import RoutingPreview, RoutingRead
from triage.rule_sources import RuleSources
from triage.vcop import service as vcop_service
from triage.vcop.rights import Evaluation, evaluate

REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O or 1/I to misread


@dataclass(frozen=True)
class Intake:
    """What intake answers: the referral's identity, and whether this request created it."""

    id: UUID
    reference: str
    state: str
    version: int
    created: bool


def create_referral(
    session: Session,
    *,
    caller: Caller,
    body: ReferralCreate,
    idempotency_key: str | None,
    now: datetime,
    rules: RuleSources,
    settings: Settings,
) -> Intake:
    """Log a new referral, or return the one an earlier identical request created.

    A repeated `(source, external_ref)` returns the existing referral unchanged; a repeated
    `Idempotency-Key` with another body raises Conflict. The insert comes first and the
    database's unique constraints decide (no check-then-insert race, one statement).
    """
    if caller.role not in (Role.triage, Role.intake):
        raise Forbidden(f"the {caller.role.value} role may not create referrals")
    check_new(body, rules=rules, now=now)
    # Only a reused Idempotency-Key compares bodies, so only then is the body hashed.
    request_hash = _body_hash(body) if idempotency_key is not None else ""
    values, evaluation = new_referral(
        caller, body, idempotency_key=idempotency_key, request_hash=request_hash, now=now,
        rules=rules, settings=settings,
    )  # fmt: skip
    for _ in range(5):
        values["reference"] = new_reference(now)
        if repository.insert_unless_exists(session, values):
            audit.record_many(session, [creation_audit(caller, values, body, evaluation)])
            vcop_service.record_evaluation(
                session,
                referral_id=values["id"],
                evaluation=evaluation,
                check=creation_check(caller),
                now=now,
                is_new=True,
            )
            return Intake(values["id"], values["reference"], values["state"], 1, created=True)
        earlier = _earlier_request(
            session, caller, body, idempotency_key, request_hash, rules, settings
        )
        if earlier is not None:
            if caller.role == Role.intake:
                # A feed learns what it sent was taken, not what triage has done since.
                return Intake(earlier.id, earlier.reference, State.received.value, 1, False)
            return Intake(earlier.id, earlier.reference, earlier.state, earlier.version, False)
        # Nothing earlier matched, so the random reference collided: draw another.
    raise RuntimeError("no free referral reference after 5 draws")


def check_new(body: ReferralCreate, *, rules: RuleSources, now: datetime) -> None:
    """What the schema cannot know: the area is one of the rule set's, the crime not future."""
    if body.area not in rules.areas:
        raise InvalidInput(f"unknown area {body.area!r}", field=("body", "area"), value=body.area)
    if body.crime_reported_at is not None and body.crime_reported_at > now:
        raise InvalidInput(
            "crime_reported_at is in the future", field=("body", "crime_reported_at")
        )


def new_referral(
    caller: Caller,
    body: ReferralCreate,
    *,
    idempotency_key: str | None,
    request_hash: str,
    now: datetime,
    rules: RuleSources,
    settings: Settings,
) -> tuple[dict[str, Any], Evaluation]:
    """A new referral's row (its reference still to draw) and its first Victims' Code
    evaluation, as intake and the feed import both store it."""
    values = _referral_values(caller, body, idempotency_key, request_hash, now)
    evaluation = _first_vcop_evaluation(body, now, rules, settings)
    values.update(
        vcop_edition=evaluation.edition,
        enhanced=evaluation.enhanced,
        enhanced_reasons=list(evaluation.enhanced_reasons),
        urgent_at=urgent_at(
            state=State.received,
            contact=contact_due(now, (), settings.contact_standard_hours),
            rights=((r.status, r.due_at) for r in evaluation.rights),
            respond_by=None,
        ),
        returned_at=None,
    )
    return values, evaluation


def creation_audit(
    caller: Caller, values: dict[str, Any], body: ReferralCreate, evaluation: Evaluation
) -> dict[str, Any]:
    """The audit line of a referral's creation."""
    return audit.line(
        caller=caller,
        action="create",
        now=values["received_at"],
        referral_id=values["id"],
        to_state=values["state"],
        version=1,
        detail={
            "source": body.source,
            "external_ref": body.external_ref,
            "crime_type": body.crime_type,
            "area": body.area,
            "hate_strands": list(body.hate_strands),
            "vcop_edition": evaluation.edition,
            "enhanced": evaluation.enhanced,
            "enhanced_reasons": list(evaluation.enhanced_reasons),
        },
    )


def creation_check(caller: Caller) -> vcop_service.Check:
    """The check-log trigger of a referral's first evaluation."""
    return vcop_service.Check("create", caller.user_id, {"action": "create", "version": 1})


def _body_hash(body: ReferralCreate) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _first_vcop_evaluation(
    body: ReferralCreate, now: datetime, rules: RuleSources, settings: Settings
) -> Evaluation:
    """Entitlements as the referral arrives: the edition in force, enhanced grounds, clocks."""
    day = (body.crime_reported_at or now).astimezone(ZoneInfo(settings.timezone)).date()
    edition = rules.edition_on(day)
    crime_type = body.crime_type.value
    facts = vcop_facts(
        crime_type=crime_type,
        received_at=now,
        crime_reported_at=body.crime_reported_at,
        hate_crime=bool(body.hate_strands),
        age=age_on(body.victim.date_of_birth, day),
        answers=None,
        consent_required=edition.needs_explicit_consent(crime_type, bereaved=False),
    )
    return evaluate(edition, facts, now=now, calendar=vcop_service.calendar_for(settings))


def _earlier_request(
    session: Session,
    caller: Caller,
    body: ReferralCreate,
    idempotency_key: str | None,
    request_hash: str,
    rules: RuleSources,
    settings: Settings,
) -> Referral | None:
    """The referral an earlier request with this key or crime reference created; a Conflict
    if that request said something else. The Conflict names fields, never values."""
    if idempotency_key is not None:
        earlier = repository.by_idempotency_key(session, caller.user_id or -1, idempotency_key)
        if earlier is not None:
            if earlier.request_hash != request_hash:
                raise _repeat_conflict(
                    session, caller, earlier, rules, settings,
                    "this Idempotency-Key was used before with a different body",
                    failed=["idempotency_key_reused"],
                )  # fmt: skip
            return _readable_repeat(session, caller, earlier)
    if body.external_ref is not None:
        earlier = repository.by_source_ref(session, body.source, body.external_ref)
        if earlier is not None:
            differ = fields_that_differ(earlier, body)
            if differ:
                raise _repeat_conflict(
                    session, caller, earlier, rules, settings,
                    f"this {body.source.value} crime reference was logged before with other "
                    f"details: {', '.join(differ)}",
                    failed=["external_ref_reused"],
                    fields=differ,
                )  # fmt: skip
            return _readable_repeat(session, caller, earlier)
    return None


def _readable_repeat(session: Session, caller: Caller, earlier: Referral) -> Referral:
    """A repeat of a request whose referral is locked down to others is not answered with
    that referral: the caller is told only that the request was made before (409)."""
    if not readable(session, earlier.id, caller):
        raise Conflict(
            "this request was made before, for a referral you may not see",
            state=None, version=None, allowed_events=[], failed=["locked_down"],
        )  # fmt: skip
    return earlier


def _repeat_conflict(
    session: Session,
    caller: Caller,
    earlier: Referral,
    rules: RuleSources,
    settings: Settings,
    message: str,
    **detail: Any,
) -> Conflict:
    """A repeat that says something else. Triage, who may read the referral, is told its
    state as every 409 does; a feed (intake) is not told what has happened to it since."""
    if caller.role == Role.intake or not readable(session, earlier.id, caller):
        return Conflict(message, **detail)
    context = load(session, caller=caller, referral_id=earlier.id, rules=rules, settings=settings)
    return Conflict(
        message,
        state=earlier.state,
        version=earlier.version,
        allowed_events=context.allowed_events(caller),
        **detail,
    )


# What a repeat of a crime reference must say again, by column, with its place in the body.
COMPARED = {
    "crime_type": "crime_type",
    "hate_strands": "hate_strands",
    "crime_reported_at": "crime_reported_at",
    "area": "area",
    "victim_full_name": "victim.full_name",
    "victim_date_of_birth": "victim.date_of_birth",
    "victim_phone": "victim.phone",
    "victim_email": "victim.email",
    "victim_address": "victim.address",
    "victim_postcode": "victim.postcode",
    "safe_channels": "victim.safe_channels",
    "safe_times": "victim.safe_times",
    "language": "victim.language",
    "notes": "notes",
}


def fields_that_differ(stored: Referral, body: ReferralCreate) -> list[str]:
    """Where `body` says something other than the referral it repeats, in body order."""
    sent = _referral_values(None, body, None, "", stored.received_at)
    return [
        place
        for column, place in COMPARED.items()
        if _comparable(getattr(stored, column)) != _comparable(sent[column])
    ]


def _comparable(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value


def _referral_values(
    caller: Caller | None,
    body: ReferralCreate,
    idempotency_key: str | None,
    request_hash: str,
    now: datetime,
) -> dict[str, Any]:
    victim = body.victim
    return {
        "id": uuid.uuid4(),
        "source": body.source.value,
        "external_ref": body.external_ref,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
        "created_by": caller.user_id if caller else None,
        "area": body.area,
        "crime_type": body.crime_type.value,
        "hate_strands": [s.value for s in body.hate_strands],
        "crime_reported_at": body.crime_reported_at,
        "received_at": now,
        "victim_full_name": victim.full_name,
        "victim_name_key": name_key(victim.full_name),
        "victim_date_of_birth": victim.date_of_birth,
        "victim_phone": victim.phone,
        "victim_phone_key": phone_key(victim.phone),
        "victim_email": victim.email,
        "victim_address": victim.address,
        "victim_postcode": victim.postcode,
        "safe_channels": [c.value for c in victim.safe_channels],
        "safe_times": victim.safe_times,
        "language": victim.language,
        "notes": body.notes,
        "state": State.received.value,
        "version": 1,
        "updated_at": now,
    }


def new_reference(now: datetime) -> str:
    """A short reference a person can read out on the phone: `VR-26-7K3M9QXD`.

    32**8 codes a year: a collision is caught by the unique constraint and redrawn. Each of
    8 random bytes picks one of the 32 characters by its low 5 bits (uniform: 256 = 8 x 32).
    """
    code = "".join(REFERENCE_ALPHABET[b & 31] for b in secrets.token_bytes(8))
    return f"VR-{now:%y}-{code}"


def read_referral(
    session: Session, *, context: ReferralContext, caller: Caller, now: datetime
) -> ReferralContext:
    """A referral's detail; the read itself is audited."""
    require_person_level(caller)
    _audit_read(session, context, caller, "read", now)
    return context


def list_referrals(
    session: Session,
    *,
    caller: Caller,
    filters: repository.Filters,
    limit: int,
    offset: int,
    settings: Settings,
    now: datetime,
    order: repository.Order = repository.Order.newest,
) -> ReferralPage:
    """One page of the referrals the caller may see. A provider's worker sees its own: open
    offers first by respond-by, then the cases it holds, then those closed. Each referral
    shown with its victim's name is audited as read (`read_list`)."""
    require_person_level(caller)
    is_provider = caller.role == Role.provider
    rows, total = repository.page(
        session,
        filters,
        visible_to_provider_id=(caller.provider_id or -1) if is_provider else None,
        reader_id=caller.user_id,
        order=repository.Order.provider if is_provider else order,
        limit=limit,
        offset=offset,
    )
    open_offers = repository.open_offers_for(session, [r.id for r in rows])
    codes = provider_repository.codes_by_id(
        session,
        {r.holder_provider_id for r in rows} | {o.provider_id for o in open_offers.values()},
    )
    items = []
    for r in rows:
        offer = open_offers.get(r.id)
        shown = caller.role == Role.triage or r.holder_provider_id == caller.provider_id
        current = r.holder_provider_id or (offer.provider_id if offer else None)
        items.append(
            ReferralListItem(
                id=r.id,
                reference=r.reference,
                state=r.state,
                version=r.version,
                crime_type=r.crime_type,
                hate_strands=r.hate_strands,
                area=r.area,
                age_band=age_band(
                    age_on(r.victim_date_of_birth, reference_day(r, settings.timezone))
                ),
                received_at=r.received_at,
                victim_name=r.victim_full_name if shown else None,
                provider=codes.get(current) if current else None,
                respond_by=offer.respond_by if offer else None,
                enhanced=r.enhanced,
                urgent_at=r.urgent_at,
                returned_at=r.returned_at,
            )
        )
    named = [(i.id, i.version) for i in items if i.victim_name is not None]
    audit.record_reads(session, caller=caller, action="read_list", now=now, shown=named)
    return ReferralPage(items=items, total=total, limit=limit, offset=offset)


def referral_history(
    session: Session, *, context: ReferralContext, caller: Caller, now: datetime
) -> History:
    """The audit timeline of one referral; reading it is itself audited.

    A provider that does not hold the case sees what happened and when, not the details
    (assessment answers, references, notes), as in its restricted view of the referral.
    """
    require_person_level(caller)
    events = timeline_view(session, context=context, caller=caller)
    _audit_read(session, context, caller, "read_history", now)
    return History(referral=context.referral.id, events=events)


def timeline_view(
    session: Session, *, context: ReferralContext, caller: Caller
) -> list[AuditEventRead]:
    """The referral's audit lines as the caller may see them (reading them audits nothing)."""
    full = sees_person(context, caller)
    timeline = audit.timeline(session, referral_id=context.referral.id)
    strangers = _other_providers_workers(session, caller, timeline)
    return [
        AuditEventRead(
            id=e.id,
            at=e.at,
            actor=ANOTHER_PROVIDER if e.actor_id in strangers else e.actor_name,
            role=e.actor_role,
            action=e.action,
            from_state=e.from_state,
            to_state=e.to_state,
            version=e.version,
            detail=e.detail if full else {},
        )
        for e in timeline
    ]


ANOTHER_PROVIDER = "another provider"


def _other_providers_workers(
    session: Session, caller: Caller, timeline: list[AuditEvent]
) -> set[int]:
    """For a provider's worker: the users of other providers in this timeline, whose names
    it is not told (a provider knows who works for it, and that triage did something)."""
    if caller.role != Role.provider:
        return set()
    ids = {e.actor_id for e in timeline if e.actor_role == Role.provider.value}
    providers = auth_service.providers_of(session, ids)
    return {user for user, provider in providers.items() if provider != caller.provider_id}


def record_read(
    session: Session, *, context: ReferralContext, caller: Caller, action: str, now: datetime
) -> None:
    """Audit a read of part of a referral (`read_routing`, `read_vcop`) shown on its own; the
    case page shows them inside its own audited read."""
    _audit_read(session, context, caller, action, now)


def _audit_read(
    session: Session, context: ReferralContext, caller: Caller, action: str, now: datetime
) -> None:
    audit.record(
        session,
        caller=caller,
        action=action,
        now=now,
        referral_id=context.referral.id,
        version=context.referral.version,
    )


def explain_routing(session: Session, *, context: ReferralContext) -> RoutingRead:
    """The latest stored decision (rules matched, candidates, skips), or before any route the
    decision the rules would make now."""
    row = routing_service.latest_decision(session, referral_id=context.referral.id)
    if row is None:
        return routing_service.decision_view(offers.decide(session, context))
    decided_by = auth_service.username(session, row.decided_by)
    return routing_service.stored_view(row, decided_by=decided_by)


def preview_routing(
    session: Session, *, body: RoutingPreview, now: datetime, rules: RuleSources, settings: Settings
) -> RoutingRead:
    """The decision the rules would make for a referral-shaped body; nothing is saved."""
    if body.area not in rules.areas:
        raise InvalidInput(f"unknown area {body.area!r}", field=("body", "area"))
    day = (body.crime_reported_at or now).astimezone(ZoneInfo(settings.timezone)).date()
    shape = routing_input(
        crime_type=body.crime_type,
        area=body.area,
        age=age_on(body.victim.date_of_birth if body.victim else None, day),
        hate_strands=body.hate_strands,
        answers=answers_from(body.assessment) if body.assessment else None,
    )
    return routing_service.decision_view(offers.preview(session, rules=rules, shape=shape))
