"""The provider directory, open to every signed-in role."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from triage.auth.deps import CurrentCaller, allow_roles
from triage.auth.service import Caller
from triage.deps import DbSession, Now
from triage.lifecycle.codes import Role
from triage.providers import service
from triage.providers.models import Provider
from triage.providers.schemas import CapacityUpdate, ProviderEntry, ProviderList, ProviderRead

router = APIRouter(prefix="/api/providers", tags=["providers"])
ProviderCode = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")]
AdminOnly = Annotated[Caller, Depends(allow_roles(Role.admin))]
AdminOrProvider = Annotated[Caller, Depends(allow_roles(Role.admin, Role.provider))]


def provider_view(provider: Provider) -> ProviderRead:
    return ProviderRead.model_validate(provider, from_attributes=True)


@router.get("", response_model=ProviderList)
def list_providers(caller: CurrentCaller, session: DbSession) -> ProviderList:
    """Every provider in the directory: code, name, services, areas and live availability."""
    return ProviderList(items=[provider_view(p) for p in service.list_providers(session)])


@router.get("/{code}", response_model=ProviderRead)
def read_provider(code: ProviderCode, caller: CurrentCaller, session: DbSession) -> ProviderRead:
    """One provider by its code."""
    return provider_view(service.get_provider(session, code=code))


@router.post("", response_model=ProviderRead, status_code=status.HTTP_201_CREATED)
def create_provider(
    entry: ProviderEntry, caller: AdminOnly, session: DbSession, now: Now
) -> ProviderRead:
    """Add a provider to the directory (admin)."""
    return provider_view(service.create_provider(session, caller=caller, entry=entry, now=now))


@router.put("/{code}", response_model=ProviderRead)
def update_provider(
    code: ProviderCode, entry: ProviderEntry, caller: AdminOnly, session: DbSession, now: Now
) -> ProviderRead:
    """Replace a provider's directory entry (admin)."""
    provider = service.update_provider(session, caller=caller, code=code, entry=entry, now=now)
    return provider_view(provider)


@router.put("/{code}/capacity", response_model=ProviderRead)
def set_capacity(
    code: ProviderCode, body: CapacityUpdate, caller: AdminOrProvider, session: DbSession, now: Now
) -> ProviderRead:
    """Set whether the provider takes new cases, and how many it can hold at once."""
    provider = service.set_capacity(
        session, caller=caller, code=code, accepting=body.accepting, capacity=body.capacity, now=now
    )
    return provider_view(provider)
