"""The provider directory: listing, editing, live capacity, and syncing a rule set's
`providers.toml` into it."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from triage.audit import service as audit
from triage.caller import Caller
from triage.errors import Conflict, Forbidden, InvalidInput, NotFound
from triage.lifecycle.codes import Role
from triage.providers import repository
from triage.providers.models import Provider
from triage.routing.rules import FILE_ONLY_FIELDS, ProviderDirectory, ProviderEntry


@dataclass(frozen=True)
class LoadReport:
    added: list[str]
    updated: list[str]
    unchanged: list[str]


def sync_directory(session: Session, *, directory: ProviderDirectory, now: datetime) -> LoadReport:
    """Upsert every provider of a loaded directory; live `accepting` and `capacity` are kept."""
    existing = {p.code: p for p in repository.all_providers(session)}
    report = LoadReport([], [], [])
    for entry in directory.providers:
        values = entry.model_dump(mode="json", exclude={"accepting", "capacity", *FILE_ONLY_FIELDS})
        provider = existing.get(entry.code)
        if provider is None:
            repository.add(
                session,
                Provider(
                    **values,
                    accepting=entry.accepting,
                    capacity=entry.capacity,
                    created_at=now,
                    updated_at=now,
                ),
            )
            report.added.append(entry.code)
            continue
        changed = {k: v for k, v in values.items() if getattr(provider, k) != v}
        for key, value in changed.items():
            setattr(provider, key, value)
        if changed:
            provider.updated_at = now
            report.updated.append(entry.code)
        else:
            report.unchanged.append(entry.code)
    session.flush()
    return report


def list_providers(session: Session) -> list[Provider]:
    return repository.all_providers(session)


def get_provider(session: Session, *, code: str) -> Provider:
    provider = repository.by_code(session, code)
    if provider is None:
        raise NotFound(f"no provider with code {code!r}")
    return provider


def own_provider(session: Session, *, caller: Caller) -> Provider:
    """The provider a provider's worker works for."""
    provider = session.get(Provider, caller.provider_id) if caller.provider_id else None
    if provider is None:
        raise Forbidden("only a provider's workers have a provider of their own")
    return provider


def _columns(provider: Provider) -> dict[str, object]:
    return {
        key: getattr(provider, key) for key in ProviderEntry.model_fields if key not in ("funding",)
    } | {"funding": provider.funding}


def create_provider(
    session: Session, *, caller: Caller, entry: ProviderEntry, now: datetime
) -> Provider:
    """Add a provider to the directory (admin)."""
    if repository.id_of(session, entry.code) is not None:
        raise Conflict(f"provider {entry.code!r} exists already", failed=["provider_exists"])
    _check_areas(session, entry)
    provider = repository.add(
        session, Provider(**entry.model_dump(mode="json"), created_at=now, updated_at=now)
    )
    audit.record(
        session,
        caller=caller,
        action="provider_created",
        now=now,
        detail={"provider": entry.code, "after": _columns(provider)},
    )
    return provider


def update_provider(
    session: Session, *, caller: Caller, code: str, entry: ProviderEntry, now: datetime
) -> Provider:
    """Replace a provider's directory entry (admin); the code cannot change."""
    if entry.code != code:
        raise InvalidInput("the code in the body must match the path", field=("body", "code"))
    provider = get_provider(session, code=code)
    _check_areas(session, entry)
    before = _columns(provider)
    for key, value in entry.model_dump(mode="json").items():
        setattr(provider, key, value)
    provider.updated_at = now
    audit.record(
        session,
        caller=caller,
        action="provider_updated",
        now=now,
        detail={"provider": code, "before": before, "after": _columns(provider)},
    )
    return provider


def set_capacity(
    session: Session,
    *,
    caller: Caller,
    code: str,
    accepting: bool,
    capacity: int | None,
    now: datetime,
) -> Provider:
    """Set whether a provider takes new cases and how many it can hold (admin or its own users)."""
    provider = get_provider(session, code=code)
    if caller.role == Role.provider and caller.provider_id != provider.id:
        raise Forbidden("a provider's workers may set only their own provider's capacity")
    if caller.role not in (Role.admin, Role.provider):
        raise Forbidden(f"the {caller.role.value} role may not set capacity")
    before = {"accepting": provider.accepting, "capacity": provider.capacity}
    provider.accepting, provider.capacity, provider.updated_at = accepting, capacity, now
    audit.record(
        session,
        caller=caller,
        action="capacity_set",
        now=now,
        detail={
            "provider": code,
            "before": before,
            "after": {"accepting": accepting, "capacity": capacity},
        },
    )
    return provider


def _check_areas(session: Session, entry: ProviderEntry) -> None:
    """A provider's areas must be areas some rule set serves (here: the loaded directory's)."""
    known = repository.known_areas(session)
    unknown = sorted(set(entry.areas) - known) if known else []
    if unknown:
        raise InvalidInput(f"unknown area(s) {unknown}", field=("body", "areas"))
