"""Fixtures: real Azurite on loopback (OAuth, HTTPS) and the ARM emulator's managed identity.

``azurite`` (session) is Microsoft's storage emulator, pinned in tools/azurite and run by
devhost/azurite.py. When it cannot be installed or started (no npm, the registry unreachable),
the fixture FAILS with the reason: CI has npm, and a storage test that skips in silence would
prove nothing.

``identity`` (session) is the ARM emulator, serving App Service's managed-identity protocol.
``app_env`` points the process at both, as the Functions host does in Azure: ``IDENTITY_ENDPOINT``
and ``IDENTITY_HEADER`` for azure-identity, ``REQUESTS_CA_BUNDLE`` so default TLS verification
trusts Azurite's throwaway CA. ``credential`` is then the app's own ``DefaultAzureCredential``.
``make_container`` creates containers with the account key: test setup only, never the app.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from azure.core.credentials import TokenCredential
from azure.storage.blob import BlobServiceClient

from armemulator import Emulator, EmulatorConfig
from devhost.azurite import Azurite, AzuriteError
from mysqlexport.storage import app_credential

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
def azurite() -> Iterator[Azurite]:
    server = Azurite()
    try:
        server.start()
    except AzuriteError as err:
        pytest.fail(f"Azurite (tools/azurite, devhost/azurite.py) is needed and failed: {err}")
    try:
        yield server
    finally:
        server.stop()


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


def create_container(azurite: Azurite, name: str | None = None) -> str:
    """Create a container with the account key (setup only); its URL, no SAS."""
    name = name or f"c-{uuid.uuid4().hex[:20]}"
    service = BlobServiceClient(
        azurite.blob_endpoint,
        credential={"account_name": azurite.account_name, "account_key": azurite.account_key},
        connection_verify=str(azurite.ca_bundle),
    )
    with service:
        service.create_container(name)
    return azurite.container_url(name)


@pytest.fixture
def make_container(azurite: Azurite) -> ContainerFactory:
    def factory(name: str | None = None) -> str:
        return create_container(azurite, name)

    return factory


@pytest.fixture
def container(make_container: ContainerFactory) -> str:
    return make_container()
