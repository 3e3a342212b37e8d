"""devhost: a local Durable Functions host for Python v2-model apps.

Neither Azure nor Azure Functions Core Tools is needed: devhost indexes a ``df.DFApp`` like the
Python worker, serves its HTTP routes and the durable management/RPC endpoints like
``func start`` with the Durable extension, and runs orchestrators through the SDK's own replay
with DTFx-style sequence ids and determinism checks. A virtual clock lets hours of durable
timers pass in milliseconds; the store is separate from the engine so a host restart resumes.
"""

from devhost.clock import Clock, SettableClock, VirtualClock, WallClock
from devhost.errors import (
    DevHostError,
    IndexingError,
    InstanceAlreadyRunningError,
    InstanceGoneError,
    InstanceNotFoundError,
    UnknownFunctionError,
    UnsupportedFeatureError,
)
from devhost.faults import HostFaults
from devhost.host import DevHost
from devhost.status import OrchestrationStatus
from devhost.store import RuntimeStatus, Store, StoreStats

__all__ = [
    "Clock",
    "DevHost",
    "DevHostError",
    "HostFaults",
    "IndexingError",
    "InstanceAlreadyRunningError",
    "InstanceGoneError",
    "InstanceNotFoundError",
    "OrchestrationStatus",
    "RuntimeStatus",
    "SettableClock",
    "Store",
    "StoreStats",
    "UnknownFunctionError",
    "UnsupportedFeatureError",
    "VirtualClock",
    "WallClock",
]
