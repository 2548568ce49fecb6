"""The provider directory, open to every signed-in role."""

from fastapi import APIRouter

from triage.auth.deps import CurrentCaller
from triage.deps import DbSession
from triage.providers import service
from triage.providers.models import Provider
from triage.providers.schemas import ProviderList, ProviderRead

router = APIRouter(prefix="/api/providers", tags=["providers"])


def provider_view(provider: Provider) -> ProviderRead:
    return ProviderRead.model_validate(provider, from_attributes=True)


@router.get("", response_model=ProviderList)
def list_providers(caller: CurrentCaller, session: DbSession) -> ProviderList:
    """Every provider in the directory: code, name, services, areas and live availability."""
    return ProviderList(items=[provider_view(p) for p in service.list_providers(session)])


@router.get("/{code}", response_model=ProviderRead)
def read_provider(code: str, caller: CurrentCaller, session: DbSession) -> ProviderRead:
    """One provider by its code."""
    return provider_view(service.get_provider(session, code=code))
