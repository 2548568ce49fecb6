"""The provider directory: listing, and loading a rule set's `providers.toml`."""

import tomllib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.audit import service as audit
from triage.auth.service import Caller
from triage.errors import Conflict, Forbidden, InvalidInput, NotFound
from triage.lifecycle.codes import Role
from triage.providers.models import Provider
from triage.providers.schemas import ProviderDirectory, ProviderEntry


class DirectoryError(ValueError):
    """A `providers.toml` that does not validate; the message names file and field."""


def read_directory(path: Path) -> ProviderDirectory:
    """Parse and validate one `providers.toml`."""
    try:
        return ProviderDirectory.model_validate(tomllib.loads(path.read_text()))
    except tomllib.TOMLDecodeError as error:
        raise DirectoryError(f"{path}: not valid TOML: {error}") from error
    except ValidationError as error:
        lines = [f"{path}: {len(error.errors())} problem(s)"]
        lines += [
            f"  {'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        ]
        raise DirectoryError("\n".join(lines)) from error


@lru_cache
def area_codes(path: Path) -> frozenset[str]:
    """The areas a rule set serves."""
    return frozenset(read_directory(path).areas)


@dataclass(frozen=True)
class LoadReport:
    added: list[str]
    updated: list[str]
    unchanged: list[str]


def load_directory(session: Session, *, path: Path, now: datetime) -> LoadReport:
    """Upsert every provider of `path`; live `accepting` and `capacity` are kept."""
    directory = read_directory(path)
    existing = {p.code: p for p in session.scalars(select(Provider))}
    report = LoadReport([], [], [])
    for entry in directory.providers:
        values = entry.model_dump(mode="json", exclude={"accepting", "capacity"})
        provider = existing.get(entry.code)
        if provider is None:
            session.add(
                Provider(
                    **values,
                    accepting=entry.accepting,
                    capacity=entry.capacity,
                    created_at=now,
                    updated_at=now,
                )
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
    return list(session.scalars(select(Provider).order_by(Provider.code)))


def get_provider(session: Session, *, code: str) -> Provider:
    provider = session.scalar(select(Provider).where(Provider.code == code))
    if provider is None:
        raise NotFound(f"no provider with code {code!r}")
    return provider


def _columns(provider: Provider) -> dict[str, object]:
    return {
        key: getattr(provider, key) for key in ProviderEntry.model_fields if key not in ("funding",)
    } | {"funding": provider.funding}


def create_provider(
    session: Session, *, caller: Caller, entry: ProviderEntry, now: datetime
) -> Provider:
    """Add a provider to the directory (admin)."""
    if session.scalar(select(Provider.id).where(Provider.code == entry.code)) is not None:
        raise Conflict(f"provider {entry.code!r} exists already", failed=["provider_exists"])
    _check_areas(session, entry)
    provider = Provider(**entry.model_dump(mode="json"), created_at=now, updated_at=now)
    session.add(provider)
    session.flush()
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
    known = {area for areas in session.scalars(select(Provider.areas)) for area in areas}
    unknown = sorted(set(entry.areas) - known) if known else []
    if unknown:
        raise InvalidInput(f"unknown area(s) {unknown}", field=("body", "areas"))
