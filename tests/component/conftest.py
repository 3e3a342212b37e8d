"""Fixtures: a real ARM emulator on loopback and a client that gets its token like in Azure."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from azure.identity import ManagedIdentityCredential

from armemulator import Emulator, EmulatorConfig, VirtualClock
from mysqlexport.arm import ArmClient
from mysqlexport.settings import Settings

SUB = "ffffffff-ffff-ffff-ffff-ffffffffffff"
SAS = [
    "https://acct.blob.core.windows.net/backups?sv=2022-11-02&sr=c&sp=rcw&se=2030-01-01T00%3A00%3A00Z&sig=c2VjcmV0LXNpZw%3D%3D",
]
SIG = "c2VjcmV0LXNpZw"


def server_id(name: str, group: str = "TestGroup") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.DBforMySQL/flexibleServers/{name}"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=time.time())


@pytest.fixture
def emulator(clock: VirtualClock) -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(clock=clock, seed=7)) as emu:
        yield emu


def identity_for(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> ManagedIdentityCredential:
    """azure-identity's own App Service managed identity path, pointed at ``emu``."""
    monkeypatch.setenv("IDENTITY_ENDPOINT", emu.token_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", emu.identity_header)
    return ManagedIdentityCredential()


@pytest.fixture
def managed_identity(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> ManagedIdentityCredential:
    return identity_for(emulator, monkeypatch)


@pytest.fixture
def settings(emulator: Emulator) -> Settings:
    return Settings.from_env({"ARM_ENDPOINT": emulator.url, "ARM_READ_TIMEOUT_SECONDS": "2"})


@pytest.fixture
def arm(settings: Settings, managed_identity: ManagedIdentityCredential) -> Iterator[ArmClient]:
    with ArmClient(settings, managed_identity) as client:
        yield client
