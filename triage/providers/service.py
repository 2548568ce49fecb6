"""The provider directory: listing, and loading a rule set's `providers.toml`."""

import tomllib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.errors import NotFound
from triage.providers.models import Provider
from triage.providers.schemas import ProviderDirectory


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
