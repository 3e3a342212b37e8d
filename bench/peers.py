"""What users write instead of this app, run against the same emulator.

* the official SDK (``azure-mgmt-mysqlflexibleservers``): ``begin_create(...).result()`` per
  server in a ``ThreadPoolExecutor``, with the SDK's default polling (ARMPolling: Retry-After,
  here ``retry-after-ms``, else every 30 s);
* the same SDK call in a plain loop, one server after the other, as the Azure CLI does.

Both use azure-identity's ``ManagedIdentityCredential`` against the emulator's identity endpoint,
over TLS (the SDK refuses bearer tokens over plain http). Each call records, on the emulator's
clock, when it was submitted and when ``result()`` returned: the moment the caller knew.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from armemulator import ServerSpec
from armemulator.clock import Clock

ARM_SCOPE = "https://management.azure.com/.default"


@dataclass(frozen=True)
class PeerCall:
    """One server's export as a peer saw it (emulator-clock seconds)."""

    server: str
    submitted_at: float
    known_at: float
    succeeded: bool


def _client(url: str, subscription: str) -> Any:
    from azure.identity import ManagedIdentityCredential  # noqa: PLC0415 - dev-only SDKs
    from azure.mgmt.mysqlflexibleservers import MySQLManagementClient  # noqa: PLC0415

    return MySQLManagementClient(
        credential=ManagedIdentityCredential(),
        subscription_id=subscription,
        base_url=url,
        credential_scopes=[ARM_SCOPE],
    )


def _export_one(client: Any, clock: Clock, spec: ServerSpec, sas: str) -> PeerCall:
    from azure.core.exceptions import HttpResponseError  # noqa: PLC0415

    parameters = {
        "backupSettings": {"backupName": f"{spec.name}-bench", "backupFormat": "Raw"},
        "targetDetails": {"objectType": "FullBackupStoreDetails", "sasUriList": [sas]},
    }
    poller = client.backup_and_export.begin_create(spec.resource_group, spec.name, parameters)
    submitted = clock.now()
    try:
        poller.result()
        succeeded = True
    except HttpResponseError:
        succeeded = False
    return PeerCall(spec.name, submitted, clock.now(), succeeded)


def quiet_sdk_logs() -> None:
    """The SDK logs every request at INFO and urllib3 warns when 20 threads share 10 pooled
    connections (the SDK's default pool); neither is a result."""
    for name in ("azure", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)


def sdk_thread_pool(
    url: str,
    *,
    subscription: str,
    servers: Sequence[ServerSpec],
    concurrency: int,
    clock: Clock,
    sas: str,
) -> list[PeerCall]:
    """``begin_create(...).result()`` for every server in a ``ThreadPoolExecutor``."""
    quiet_sdk_logs()
    client = _client(url, subscription)
    with ThreadPoolExecutor(concurrency, thread_name_prefix="sdk-peer") as pool:
        return list(pool.map(lambda spec: _export_one(client, clock, spec, sas), servers))


def sdk_sequential(
    url: str,
    *,
    subscription: str,
    servers: Sequence[ServerSpec],
    clock: Clock,
    sas: str,
    keep_going: Callable[[], bool] = lambda: True,
) -> list[PeerCall]:
    """One server after the other; stops early (before the next server) when ``keep_going``
    says so, so a benchmark can measure a prefix of the fleet and extrapolate."""
    quiet_sdk_logs()
    client = _client(url, subscription)
    calls: list[PeerCall] = []
    for spec in servers:
        if not keep_going():
            break
        calls.append(_export_one(client, clock, spec, sas))
    return calls


def real_time_deadline(seconds: float) -> Callable[[], bool]:
    """``keep_going`` for ``sdk_sequential``: true until ``seconds`` of real time have passed."""
    end = time.monotonic() + seconds
    return lambda: time.monotonic() < end
