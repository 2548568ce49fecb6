"""Use cases of the referrals domain: intake, reading, listing and the audit timeline."""

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from triage.audit import service as audit
from triage.auth.service import Caller
from triage.config import Settings
from triage.errors import Conflict, Forbidden, InvalidInput
from triage.lifecycle.codes import Role, State
from triage.providers.service import area_codes
from triage.referrals import repository
from triage.referrals.context import (
    ReferralContext,
    load,
    reference_day,
    require_person_level,
)
from triage.referrals.models import Referral
from triage.referrals.people import age_band, age_on, name_key, phone_key
from triage.referrals.schemas import (
    AuditEventRead,
    History,
    ReferralCreate,
    ReferralListItem,
    ReferralPage,
)
from triage.referrals.views import sees_person
from triage.vcop import service as vcop_service
from triage.vcop.editions import edition_in_force, load_editions
from triage.vcop.rights import Evaluation, VcopFacts

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
    settings: Settings,
) -> Intake:
    """Log a new referral, or return the one an earlier identical request created.

    A repeated `(source, external_ref)` returns the existing referral unchanged; a repeated
    `Idempotency-Key` with another body raises Conflict. The insert comes first and the
    database's unique constraints decide (no check-then-insert race, one statement).
    """
    if caller.role not in (Role.triage, Role.intake):
        raise Forbidden(f"the {caller.role.value} role may not create referrals")
    if body.area not in area_codes(settings.rules_dir / settings.rule_set / "providers.toml"):
        raise InvalidInput(f"unknown area {body.area!r}", field=("body", "area"), value=body.area)
    if body.crime_reported_at is not None and body.crime_reported_at > now:
        raise InvalidInput(
            "crime_reported_at is in the future", field=("body", "crime_reported_at")
        )
    # Only a reused Idempotency-Key compares bodies, so only then is the body hashed.
    request_hash = (
        hashlib.sha256(
            json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
        ).hexdigest()
        if idempotency_key is not None
        else ""
    )
    values = _referral_values(caller, body, idempotency_key, request_hash, now)
    evaluation = _first_vcop_evaluation(body, now, settings)
    values.update(
        vcop_edition=evaluation.edition,
        enhanced=evaluation.enhanced,
        enhanced_reasons=list(evaluation.enhanced_reasons),
    )
    for _ in range(5):
        values["reference"] = _new_reference(now)
        if repository.insert_unless_exists(session, values):
            audit.record(
                session,
                caller=caller,
                action="create",
                now=now,
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
            vcop_service.record_evaluation(
                session,
                referral_id=values["id"],
                evaluation=evaluation,
                check=vcop_service.Check(
                    "create", caller.user_id, {"action": "create", "version": 1}
                ),
                now=now,
                is_new=True,
            )
            return Intake(values["id"], values["reference"], values["state"], 1, created=True)
        earlier = _earlier_request(session, caller, body, idempotency_key, request_hash, settings)
        if earlier is not None:
            return Intake(earlier.id, earlier.reference, earlier.state, earlier.version, False)
        # Nothing earlier matched, so the random reference collided: draw another.
    raise RuntimeError("no free referral reference after 5 draws")


def _body_hash(body: ReferralCreate) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _first_vcop_evaluation(body: ReferralCreate, now: datetime, settings: Settings) -> Evaluation:
    """Entitlements as the referral arrives: the edition in force, enhanced grounds, clocks."""
    day = (body.crime_reported_at or now).astimezone(ZoneInfo(settings.timezone)).date()
    edition = edition_in_force(load_editions(settings.rules_dir / "vcop"), day)
    facts = VcopFacts(
        crime_type=body.crime_type.value,
        received_at=now,
        crime_reported_at=body.crime_reported_at,
        hate_crime=bool(body.hate_strands),
        age=age_on(body.victim.date_of_birth, day),
    )
    return vcop_service.evaluate_new(edition, facts, now=now, settings=settings)


def _earlier_request(
    session: Session,
    caller: Caller,
    body: ReferralCreate,
    idempotency_key: str | None,
    request_hash: str,
    settings: Settings,
) -> Referral | None:
    if idempotency_key is not None:
        earlier = repository.by_idempotency_key(session, caller.user_id, idempotency_key)
        if earlier is not None:
            if earlier.request_hash != request_hash:
                context = load(session, caller=caller, referral_id=earlier.id, settings=settings)
                raise Conflict(
                    "this Idempotency-Key was used before with a different body",
                    state=earlier.state,
                    version=earlier.version,
                    allowed_events=context.allowed_events(caller),
                    failed=["idempotency_key_reused"],
                )
            return earlier
    if body.external_ref is not None:
        return repository.by_source_ref(session, body.source, body.external_ref)
    return None


def _referral_values(
    caller: Caller,
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
        "created_by": caller.user_id,
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


def _new_reference(now: datetime) -> str:
    """A short reference a person can read out on the phone: `VR-26-7K3M9QXD`.

    32**8 codes a year: a collision is caught by the unique constraint and redrawn.
    """
    code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"VR-{now:%y}-{code}"


def read_referral(
    session: Session, *, caller: Caller, referral_id: UUID, now: datetime, settings: Settings
) -> ReferralContext:
    """A referral's detail; the read itself is audited."""
    require_person_level(caller)
    context = load(session, caller=caller, referral_id=referral_id, settings=settings)
    audit.record(
        session,
        caller=caller,
        action="read",
        now=now,
        referral_id=referral_id,
        version=context.referral.version,
    )
    return context


def list_referrals(
    session: Session,
    *,
    caller: Caller,
    state: str | None,
    crime_type: str | None,
    provider: str | None,
    limit: int,
    offset: int,
    settings: Settings,
    overdue: bool | None = None,
    now: datetime | None = None,
) -> ReferralPage:
    """One page of the referrals the caller may see, newest first."""
    require_person_level(caller)
    conditions: list[ColumnElement[bool]] = []
    if caller.role == Role.provider:
        conditions.append(repository.visible_to_provider(caller.provider_id or -1))
    if state is not None:
        conditions.append(Referral.state == state)
    if crime_type is not None:
        conditions.append(Referral.crime_type == crime_type)
    if provider is not None:
        conditions.append(repository.held_or_offered_to(provider))
    if overdue is not None and now is not None:
        late = repository.overdue(now)
        conditions.append(late if overdue else ~late)
    rows, total = repository.page(session, conditions=conditions, limit=limit, offset=offset)
    open_offers = repository.open_offers_for(session, [r.id for r in rows])
    provider_ids = {r.holder_provider_id for r in rows} | {
        o.provider_id for o in open_offers.values()
    }
    codes = repository.provider_codes(session, [p for p in provider_ids if p is not None])
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
            )
        )
    return ReferralPage(items=items, total=total, limit=limit, offset=offset)


def referral_history(
    session: Session, *, caller: Caller, referral_id: UUID, now: datetime, settings: Settings
) -> History:
    """The audit timeline of one referral; reading it is itself audited.

    A provider that does not hold the case sees what happened and when, not the details
    (assessment answers, references, notes), as in its restricted view of the referral.
    """
    require_person_level(caller)
    context = load(session, caller=caller, referral_id=referral_id, settings=settings)
    full = sees_person(context, caller)
    events = [
        AuditEventRead(
            id=e.id,
            at=e.at,
            actor=e.actor_name,
            role=e.actor_role,
            action=e.action,
            from_state=e.from_state,
            to_state=e.to_state,
            version=e.version,
            detail=e.detail if full else {},
        )
        for e in audit.timeline(session, referral_id=referral_id)
    ]
    audit.record(
        session,
        caller=caller,
        action="read_history",
        now=now,
        referral_id=referral_id,
        version=context.referral.version,
    )
    return History(referral=referral_id, events=events)
