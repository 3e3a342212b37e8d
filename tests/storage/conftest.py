"""Fixtures: real Azurite on loopback (OAuth, HTTPS) and the ARM emulator's managed identity.

``azurite`` (session, tests/conftest.py) is Microsoft's storage emulator, shared with the
end-to-end tests.

``identity`` (session) is the ARM emulator, serving App Service's managed-identity protocol.
``app_env`` points the process at both, as the Functions host does in Azure: ``IDENTITY_ENDPOINT``
and ``IDENTITY_HEADER`` for azure-identity, ``REQUESTS_CA_BUNDLE`` so default TLS verification
trusts Azurite's throwaway CA. ``credential`` is then the app's own ``DefaultAzureCredential``.
``make_container`` creates containers with the account key: test setup only, never the app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from azure.core.credentials import TokenCredential

from armemulator import Emulator, EmulatorConfig
from devhost.azurite import Azurite
from mysqlexport.storage import app_credential
from tests.storage_setup import create_container

#: azure-identity settings that would pick a credential other than the managed identity.
_OTHER_IDENTITY_SETTINGS = (
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_USERNAME",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
)

ContainerFactory = Callable[..., str]


@pytest.fixture(scope="session")
def identity() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(seed=5)) as emu:
        yield emu


@pytest.fixture
def app_env(azurite: Azurite, identity: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _OTHER_IDENTITY_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", identity.token_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", identity.identity_header)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azurite.ca_bundle))


@pytest.fixture
def credential(app_env: None) -> TokenCredential:
    """The app's identity, exactly as an activity gets it."""
    return app_credential()


@pytest.fixture
def make_container(azurite: Azurite) -> ContainerFactory:
    def factory(name: str | None = None) -> str:
        return create_container(azurite, name)

    return factory


@pytest.fixture
def container(make_container: ContainerFactory) -> str:
    return make_container()
