"""Every query of the referrals domain."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from triage.audit.models import AuditEvent
from triage.auth.models import User
from triage.db import table_of
from triage.lifecycle.codes import State
from triage.providers.models import Provider
from triage.referrals.models import ContactAttempt, Lockdown, LockdownUser, Offer, Referral
from triage.referrals.people import name_key


def get(session: Session, referral_id: UUID, *, for_update: bool = False) -> Referral | None:
    return session.get(Referral, referral_id, with_for_update=for_update or None)


def by_source_ref(session: Session, source: str, external_ref: str) -> Referral | None:
    return session.scalar(
        select(Referral).where(Referral.source == source, Referral.external_ref == external_ref)
    )


def by_idempotency_key(session: Session, created_by: int, key: str) -> Referral | None:
    return session.scalar(
        select(Referral).where(Referral.created_by == created_by, Referral.idempotency_key == key)
    )


def insert_unless_exists(session: Session, values: dict[str, Any]) -> bool:
    """Insert a referral unless a unique key (source and external reference, idempotency
    key, reference) is taken; answers whether it was inserted. One statement, no race."""
    statement = _INSERT_UNLESS_EXISTS[session.get_bind().dialect.name]
    return session.execute(statement, values).scalar_one_or_none() is not None


# Built once: a Core statement with its values as parameters keeps one cache key and skips
# the ORM's per-call coercion of every value (measured: a third of intake's CPU).
_INSERT_UNLESS_EXISTS = {
    name: dialect.insert(table_of(Referral))
    .on_conflict_do_nothing()
    .returning(table_of(Referral).c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def visible_to_provider(provider_id: int) -> ColumnElement[bool]:
    """A provider sees a referral while it has an open offer for it or holds the case."""
    open_offer = exists().where(
        Offer.referral_id == Referral.id,
        Offer.provider_id == provider_id,
        Offer.answer.is_(None),
    )
    return or_(Referral.holder_provider_id == provider_id, open_offer)


def readable_by(user_id: int | None) -> ColumnElement[bool]:
    """Not locked down, or locked down to this user (DESIGN 11)."""
    locked = exists().where(Lockdown.referral_id == Referral.id)
    named = exists().where(
        LockdownUser.referral_id == Referral.id, LockdownUser.user_id == (user_id or -1)
    )
    return or_(~locked, named)


def may_read(session: Session, referral_id: UUID, user_id: int | None) -> bool:
    """Whether a locked-down referral leaves this user out (True when not locked down)."""
    locked = session.get(Lockdown, referral_id)
    if locked is None:
        return True
    return session.get(LockdownUser, (referral_id, user_id or -1)) is not None


def lockdown_of(session: Session, referral_id: UUID) -> tuple[Lockdown, list[str]] | None:
    """The referral's lockdown and the usernames it names, alphabetically; None if open."""
    locked = session.get(Lockdown, referral_id)
    if locked is None:
        return None
    names = session.scalars(
        select(User.username)
        .join(LockdownUser, LockdownUser.user_id == User.id)
        .where(LockdownUser.referral_id == referral_id)
        .order_by(User.username)
    )
    return locked, list(names)


def lock_down(
    session: Session, referral_id: UUID, *, user_ids: Sequence[int], reason: str,
    locked_by: int | None, now: datetime,
) -> None:  # fmt: skip
    """Lock the referral down to these users, replacing any lockdown it had."""
    lift(session, referral_id)
    session.add(Lockdown(referral_id=referral_id, reason=reason, locked_by=locked_by,
                         locked_at=now))  # fmt: skip
    session.flush()
    session.add_all(LockdownUser(referral_id=referral_id, user_id=u) for u in set(user_ids))
    session.flush()


def lift(session: Session, referral_id: UUID) -> bool:
    """Lift the referral's lockdown; whether it had one."""
    locked = session.get(Lockdown, referral_id)
    if locked is None:
        return False
    for named in session.scalars(
        select(LockdownUser).where(LockdownUser.referral_id == referral_id)
    ):
        session.delete(named)
    session.flush()
    session.delete(locked)
    session.flush()
    return True


def is_visible_to_provider(session: Session, referral_id: UUID, provider_id: int) -> bool:
    return (
        session.scalar(
            select(Referral.id).where(Referral.id == referral_id, visible_to_provider(provider_id))
        )
        is not None
    )


def contact_attempts_of(session: Session, referral_id: UUID) -> list[ContactAttempt]:
    return list(
        session.scalars(
            select(ContactAttempt)
            .where(ContactAttempt.referral_id == referral_id)
            .order_by(ContactAttempt.at, ContactAttempt.id)
        )
    )


def offers_of(session: Session, referral_id: UUID) -> list[tuple[Offer, str]]:
    """The referral's offers, oldest first, each with its provider's code."""
    rows = session.execute(
        select(Offer, Provider.code)
        .join(Provider, Provider.id == Offer.provider_id)
        .where(Offer.referral_id == referral_id)
        .order_by(Offer.offered_at, Offer.id)
    )
    return [(offer, code) for offer, code in rows]


def many(session: Session, referral_ids: Sequence[UUID]) -> list[Referral]:
    """Several referrals in one statement, in the order of `referral_ids` (missing left out)."""
    found = {
        r.id: r for r in session.scalars(select(Referral).where(Referral.id.in_(referral_ids)))
    }
    return [found[i] for i in referral_ids if i in found]


def contact_attempts_of_many(
    session: Session, referral_ids: Sequence[UUID]
) -> dict[UUID, list[ContactAttempt]]:
    """Each referral's attempts, oldest first (the order of `contact_attempts_of`)."""
    attempts: dict[UUID, list[ContactAttempt]] = {i: [] for i in referral_ids}
    for attempt in session.scalars(
        select(ContactAttempt)
        .where(ContactAttempt.referral_id.in_(referral_ids))
        .order_by(ContactAttempt.at, ContactAttempt.id)
    ):
        attempts[attempt.referral_id].append(attempt)
    return attempts


def offers_of_many(
    session: Session, referral_ids: Sequence[UUID]
) -> dict[UUID, list[tuple[Offer, str]]]:
    """Each referral's offers with provider codes, oldest first (the order of `offers_of`)."""
    offers: dict[UUID, list[tuple[Offer, str]]] = {i: [] for i in referral_ids}
    for offer, code in session.execute(
        select(Offer, Provider.code)
        .join(Provider, Provider.id == Offer.provider_id)
        .where(Offer.referral_id.in_(referral_ids))
        .order_by(Offer.offered_at, Offer.id)
    ):
        offers[offer.referral_id].append((offer, code))
    return offers


def linked_referrals(
    session: Session,
    *,
    reader_id: int | None,
    referral_id: UUID,
    date_of_birth: date | None,
    name_key: str,
    phone_key: str | None,
) -> list[Referral]:
    """Other referrals of the same victim: same birth date and name, or same phone."""
    same_person = []
    if date_of_birth is not None:
        same_person.append(
            and_(
                Referral.victim_date_of_birth == date_of_birth,
                Referral.victim_name_key == name_key,
            )
        )
    if phone_key is not None:
        same_person.append(Referral.victim_phone_key == phone_key)
    if not same_person:
        return []
    return list(
        session.scalars(
            select(Referral)
            .where(Referral.id != referral_id, or_(*same_person), readable_by(reader_id))
            .order_by(Referral.received_at)
        )
    )


@dataclass(frozen=True)
class Filters:
    """Which referrals a list shows; each field given narrows it."""

    state: str | None = None
    open_only: bool = False
    crime_type: str | None = None
    area: str | None = None
    provider: str | None = None  # held by or offered now to this provider (a code)
    reference: str | None = None
    search: str | None = None  # a VR- reference, an external reference, or part of a name
    overdue: bool | None = None  # with (True) or without (False) something past due at `now`
    now: datetime | None = None


class Order(StrEnum):
    newest = "newest"  # received, newest first
    urgency = "urgency"  # given back by a provider, then soonest due, enhanced, oldest
    provider = "provider"  # a provider's own: open offers by respond-by, cases held, closed


def page(
    session: Session,
    filters: Filters,
    *,
    visible_to_provider_id: int | None,
    reader_id: int | None,
    order: Order,
    limit: int,
    offset: int,
) -> tuple[list[Referral], int]:
    """One page of the referrals that match, in `order`, and the total that match.
    `visible_to_provider_id` keeps a provider's worker to its own; `reader_id` leaves out
    what is locked down to others."""
    conditions = [*_conditions(filters), readable_by(reader_id)]
    if visible_to_provider_id is not None:
        conditions.append(visible_to_provider(visible_to_provider_id))
    total = session.scalar(select(func.count()).select_from(Referral).where(*conditions)) or 0
    rows = session.scalars(
        select(Referral)
        .where(*conditions)
        .order_by(*_ORDERS[order](visible_to_provider_id))
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def _conditions(filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.state is not None:
        conditions.append(Referral.state == filters.state)
    if filters.open_only:
        conditions.append(Referral.state != State.closed)
    if filters.crime_type is not None:
        conditions.append(Referral.crime_type == filters.crime_type)
    if filters.area is not None:
        conditions.append(Referral.area == filters.area)
    if filters.provider is not None:
        conditions.append(held_or_offered_to(filters.provider))
    if filters.reference is not None:
        conditions.append(Referral.reference == filters.reference.upper())
    if filters.search:
        conditions.append(_matching(filters.search))
    if filters.overdue is not None and filters.now is not None:
        late = overdue(filters.now)
        conditions.append(late if filters.overdue else ~late)
    return conditions


def _matching(search: str) -> ColumnElement[bool]:
    """A reference or external reference as typed, or every word of a name (folded)."""
    text_ = search.strip()
    matches: list[ColumnElement[bool]] = [
        Referral.reference == text_.upper(),
        Referral.external_ref == text_,
    ]
    key = name_key(text_)
    if key:
        matches.append(and_(*(Referral.victim_name_key.contains(word) for word in key.split())))
    return or_(*matches)


def _newest(_: int | None) -> list[Any]:
    return [Referral.received_at.desc(), Referral.id]


def _urgency(_: int | None) -> list[Any]:
    return [
        Referral.returned_at.is_(None),
        Referral.returned_at.desc(),
        Referral.urgent_at.asc().nulls_last(),
        Referral.enhanced.desc().nulls_last(),
        Referral.received_at,
        Referral.id,
    ]


def _provider_order(provider_id: int | None) -> list[Any]:
    respond_by = (
        select(func.min(Offer.respond_by))
        .where(
            Offer.referral_id == Referral.id,
            Offer.provider_id == (provider_id or -1),
            Offer.answer.is_(None),
        )
        .scalar_subquery()
    )
    held = case((Referral.state == State.in_support, 1), else_=2)
    return [
        case((respond_by.is_not(None), 0), else_=held),
        respond_by.asc(),
        Referral.received_at.desc(),
        Referral.id,
    ]


_ORDERS = {Order.newest: _newest, Order.urgency: _urgency, Order.provider: _provider_order}


def id_of_reference(session: Session, reference: str) -> UUID | None:
    return session.scalar(select(Referral.id).where(Referral.reference == reference.upper()))


def add(session: Session, row: ContactAttempt | Offer) -> None:
    """A new contact attempt or offer, written at the next flush."""
    session.add(row)


def open_offers_for(session: Session, referral_ids: Sequence[UUID]) -> dict[UUID, Offer]:
    if not referral_ids:
        return {}
    rows = session.scalars(
        select(Offer).where(Offer.referral_id.in_(referral_ids), Offer.answer.is_(None))
    )
    return {offer.referral_id: offer for offer in rows}


def held_or_offered_to(code: str) -> ColumnElement[bool]:
    """Referrals held by, or offered now to, the provider with this code."""
    provider_id = select(Provider.id).where(Provider.code == code).scalar_subquery()
    offered = exists().where(
        Offer.referral_id == Referral.id, Offer.provider_id == provider_id, Offer.answer.is_(None)
    )
    return or_(Referral.holder_provider_id == provider_id, offered)


def overdue(now: datetime) -> ColumnElement[bool]:
    """Open, and something past due: first contact, a Victims' Code right, or a provider's
    answer (the referral's `urgent_at`, see referrals/urgency.py)."""
    return and_(
        Referral.state != State.closed, Referral.urgent_at.is_not(None), Referral.urgent_at < now
    )


def open_offer_counts(session: Session) -> dict[int, int]:
    """Open offers per provider id (providers with none left out)."""
    rows = session.execute(
        select(Offer.provider_id, func.count())
        .where(Offer.answer.is_(None))
        .group_by(Offer.provider_id)
    )
    return {provider_id: count for provider_id, count in rows}


def held_case_counts(session: Session) -> dict[int, int]:
    """Cases in support per provider id (providers with none left out)."""
    rows = session.execute(
        select(Referral.holder_provider_id, func.count())
        .where(Referral.state == State.in_support, Referral.holder_provider_id.is_not(None))
        .group_by(Referral.holder_provider_id)
    )
    return {provider_id: count for provider_id, count in rows if provider_id is not None}


# Anonymisation (DESIGN 11) -------------------------------------------------------------------

# What anonymisation removes from a referral's own row: identity, contact details, address,
# postcode and free text. Codes, dates and outcomes stay (the reports are folded from them).
PERSONAL_COLUMNS = ("victim_full_name", "victim_date_of_birth", "victim_phone", "victim_email",
                    "victim_address", "victim_postcode", "safe_times", "notes")  # fmt: skip
ANONYMISED_NAME = "anonymised"


Claimed = tuple[UUID, str | None, str, str, datetime]  # id, reason, crime, reference, closed


def claim_to_anonymise(
    session: Session,
    due: ColumnElement[bool],
    limit: int,
    after: tuple[datetime, UUID] | None = None,
) -> list[Claimed]:
    """Up to `limit` referrals `due` and not anonymised, oldest closure first (after `after`,
    the last one a run claimed before: the ones not due are not read again), locked for this
    transaction; rows another replica holds are skipped (PostgreSQL), not waited for."""
    query = _to_anonymise(due, limit, after).with_for_update(skip_locked=True, of=Referral)
    return [(r.id, r.closure_reason, r.crime_type, r.reference, r.closed_at)
            for r in session.execute(query)]  # fmt: skip


def due_to_anonymise(session: Session, due: ColumnElement[bool], limit: int) -> list[Claimed]:
    """What `claim_to_anonymise` would claim, read without locking (a dry run)."""
    return [(r.id, r.closure_reason, r.crime_type, r.reference, r.closed_at)
            for r in session.execute(_to_anonymise(due, limit, None))]  # fmt: skip


def _to_anonymise(
    due: ColumnElement[bool], limit: int, after: tuple[datetime, UUID] | None
) -> Select[UUID, str | None, str, str, datetime | None]:
    query = select(Referral.id, Referral.closure_reason, Referral.crime_type,
                   Referral.reference, Referral.closed_at).where(
        Referral.closed_at.is_not(None), Referral.anonymised_at.is_(None), due)  # fmt: skip
    if after is not None:
        closed, last = after
        query = query.where(
            Referral.closed_at >= closed,
            or_(Referral.closed_at > closed, Referral.id > last),
        )
    return query.order_by(Referral.closed_at, Referral.id).limit(limit)


def personal_values(session: Session, referral_ids: Sequence[UUID]) -> dict[UUID, list[str]]:
    """Each referral's personal and free-text values as text: what must not remain anywhere
    once it is anonymised (offers' notes included)."""
    found: dict[UUID, list[str]] = {i: [] for i in referral_ids}
    columns = [getattr(Referral, c) for c in PERSONAL_COLUMNS]
    for row in session.execute(select(Referral.id, *columns).where(Referral.id.in_(referral_ids))):
        found[row[0]].extend(str(v) for v in row[1:] if v is not None)
    for row in session.execute(
        select(Offer.referral_id, Offer.note, Offer.hand_back_note).where(
            Offer.referral_id.in_(referral_ids)
        )
    ):
        found[row[0]].extend(v for v in row[1:] if v)
    return found


def anonymise_rows(session: Session, referral_ids: Sequence[UUID], now: datetime) -> None:
    """Remove the personal columns of the referrals and the notes of their offers, replace
    a lockdown's reason; each referral's version moves on (an edit in flight gets 409)."""
    session.execute(
        update(Referral)
        .where(Referral.id.in_(referral_ids))
        .values(
            victim_full_name=ANONYMISED_NAME, victim_name_key="", victim_date_of_birth=None,
            victim_phone=None, victim_phone_key=None, victim_email=None, victim_address=None,
            victim_postcode=None, safe_times=None, notes=None, idempotency_key=None,
            request_hash="", anonymised_at=now, updated_at=now, version=Referral.version + 1,
        )
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    session.execute(
        update(Offer)
        .where(Offer.referral_id.in_(referral_ids))
        .values(note=None, hand_back_note=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Lockdown)
        .where(Lockdown.referral_id.in_(referral_ids))
        .values(reason=ANONYMISED_NAME)
        .execution_options(synchronize_session=False)
    )


def audit_details(
    session: Session, referral_ids: Sequence[UUID]
) -> list[tuple[int, UUID, str, str]]:
    """(id, referral, action, detail as JSON text) of every audit line of the referrals: the
    text, so that the lines without anything to remove are never parsed."""
    rows = session.execute(
        select(AuditEvent.id, AuditEvent.referral_id, AuditEvent.action,
               cast(AuditEvent.detail, Text)).where(AuditEvent.referral_id.in_(referral_ids))
    )  # fmt: skip
    return [(r[0], r[1], r[2], r[3]) for r in rows if r[1] is not None]


def replace_audit_details(session: Session, details: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """Write scrubbed details over audit lines (erasure is the one edit the log allows)."""
    if details:
        audit = table_of(AuditEvent)
        session.execute(
            update(audit)
            .where(audit.c.id == bindparam("line"))
            .values(detail=bindparam("scrubbed")),
            [{"line": line, "scrubbed": detail} for line, detail in details],
        )


def versions_of(session: Session, referral_ids: Sequence[UUID]) -> dict[UUID, int]:
    rows = session.execute(
        select(Referral.id, Referral.version).where(Referral.id.in_(referral_ids))
    )
    return {r.id: r.version for r in rows}
