"""Every query of the provider directory."""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.providers.models import Provider


def all_providers(session: Session) -> list[Provider]:
    """Every provider, by code."""
    return list(session.scalars(select(Provider).order_by(Provider.code)))


def by_code(session: Session, code: str) -> Provider | None:
    return session.scalar(select(Provider).where(Provider.code == code))


def id_of(session: Session, code: str) -> int | None:
    return session.scalar(select(Provider.id).where(Provider.code == code))


def codes_by_id(session: Session, provider_ids: Iterable[int | None]) -> dict[int, str]:
    """Codes of the providers given (None left out)."""
    wanted = {i for i in provider_ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(Provider.id, Provider.code).where(Provider.id.in_(wanted)))
    return {provider_id: code for provider_id, code in rows}


def services_by_code(session: Session) -> dict[str, list[str]]:
    return {code: services for code, services in session.execute(_SERVICES)}


_SERVICES = select(Provider.code, Provider.services)


def names_and_funding(session: Session) -> list[tuple[str, str, dict[str, Any]]]:
    """(code, name, funding) of every provider, by code."""
    rows = session.execute(
        select(Provider.code, Provider.name, Provider.funding).order_by(Provider.code)
    )
    return [(code, name, funding) for code, name, funding in rows]


def known_areas(session: Session) -> set[str]:
    """Every area some provider in the directory serves."""
    return {area for areas in session.scalars(select(Provider.areas)) for area in areas}


def add(session: Session, provider: Provider) -> Provider:
    session.add(provider)
    session.flush()
    return provider
