"""The provider directory, open to every signed-in role."""

from typing import Annotated

from fastapi import APIRouter, Path, status

from triage.deps import (
    AdminOnly,
    AdminOrProvider,
    CurrentCaller,
    DbSession,
    NoUnknownQuery,
    Now,
    body_after,
    json_body,
)
from triage.providers import service
from triage.providers.models import Provider
from triage.providers.schemas import CapacityUpdate, ProviderList, ProviderRead
from triage.routing.rules import PROVIDER_CODE, ProviderEntry

router = APIRouter(prefix="/api/providers", tags=["providers"])
ProviderCode = Annotated[str, Path(pattern=PROVIDER_CODE)]
EntryBody = Annotated[ProviderEntry, body_after(ProviderEntry, AdminOnly)]
CapacityBody = Annotated[CapacityUpdate, body_after(CapacityUpdate, AdminOrProvider)]


def provider_view(provider: Provider) -> ProviderRead:
    return ProviderRead.model_validate(provider, from_attributes=True)


@router.get("", response_model=ProviderList)
def list_providers(
    caller: CurrentCaller, session: DbSession, _unknown: NoUnknownQuery = None
) -> ProviderList:
    """Every provider in the directory: code, name, services, areas and live availability."""
    return ProviderList(items=[provider_view(p) for p in service.list_providers(session)])


@router.get("/{code}", response_model=ProviderRead)
def read_provider(
    code: ProviderCode, caller: CurrentCaller, session: DbSession, _unknown: NoUnknownQuery = None
) -> ProviderRead:
    """One provider by its code."""
    return provider_view(service.get_provider(session, code=code))


@router.post(
    "",
    response_model=ProviderRead,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=json_body(ProviderEntry.model_json_schema()),
)
def create_provider(
    caller: AdminOnly,
    entry: EntryBody,
    session: DbSession,
    now: Now,
    _unknown: NoUnknownQuery = None,
) -> ProviderRead:
    """Add a provider to the directory (admin)."""
    return provider_view(service.create_provider(session, caller=caller, entry=entry, now=now))


@router.put(
    "/{code}",
    response_model=ProviderRead,
    openapi_extra=json_body(ProviderEntry.model_json_schema()),
)
def update_provider(
    code: ProviderCode,
    caller: AdminOnly,
    entry: EntryBody,
    session: DbSession,
    now: Now,
    _unknown: NoUnknownQuery = None,
) -> ProviderRead:
    """Replace a provider's directory entry (admin)."""
    provider = service.update_provider(session, caller=caller, code=code, entry=entry, now=now)
    return provider_view(provider)


@router.put(
    "/{code}/capacity",
    response_model=ProviderRead,
    openapi_extra=json_body(CapacityUpdate.model_json_schema()),
)
def set_capacity(
    code: ProviderCode,
    caller: AdminOrProvider,
    body: CapacityBody,
    session: DbSession,
    now: Now,
    _unknown: NoUnknownQuery = None,
) -> ProviderRead:
    """Set whether the provider takes new cases, and how many it can hold at once."""
    provider = service.set_capacity(
        session, caller=caller, code=code, accepting=body.accepting, capacity=body.capacity, now=now
    )
    return provider_view(provider)
