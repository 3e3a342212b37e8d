"""The servers the emulator pretends exist: their description, the default fleet, big fleets.

Why this module exists: tests need a small, memorable fleet with one server of each awkward kind
(stopped, forbidden, failing, needing two containers); benchmarks need ten thousand servers built
reproducibly from a seed. Both are lists of ``ServerSpec`` values; the model turns them into state.

Locations: ``ServerSpec.location`` may be given as a short name ("eastus") or a display name
("East US"). Server resources show the display name, as the service does; polling URLs carry the
short name (lower case, no spaces), as in the API's examples.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

GIB = 1024**3

#: The subscription of the API's examples, used by the default fleet.
DEFAULT_SUBSCRIPTION = "ffffffff-ffff-ffff-ffff-ffffffffffff"

#: Short name -> display name for the regions the emulator knows; others display as given.
LOCATION_DISPLAY_NAMES: dict[str, str] = {
    "eastus": "East US",
    "eastus2": "East US 2",
    "westus": "West US",
    "westus2": "West US 2",
    "westus3": "West US 3",
    "centralus": "Central US",
    "northeurope": "North Europe",
    "westeurope": "West Europe",
    "uksouth": "UK South",
    "southeastasia": "Southeast Asia",
    "japaneast": "Japan East",
    "australiaeast": "Australia East",
}

#: How an on-demand backup can end (the terminal values of ``ProvisioningState`` that a backup
#: reaches without a DELETE; the spec has no cancel operation, so "Canceled" is only configured).
BACKUP_OUTCOMES = ("Succeeded", "Failed", "Canceled")

#: Full engine versions shown in ``properties.fullVersion`` for each ``properties.version``.
FULL_VERSIONS: dict[str, str] = {"5.7": "5.7.44", "8.0.21": "8.0.40", "8.4": "8.4.3"}


def short_location(location: str) -> str:
    """ "East US" or "eastus" -> "eastus"."""
    return location.replace(" ", "").lower()


def display_location(location: str) -> str:
    """ "eastus" or "East US" -> "East US" (unknown regions are shown as given)."""
    return LOCATION_DISPLAY_NAMES.get(short_location(location), location)


@dataclass(frozen=True)
class ServerSpec:
    """One MySQL flexible server and how its exports behave."""

    subscription: str
    resource_group: str
    name: str
    location: str = "eastus"
    state: str = "Ready"
    tags: Mapping[str, str] = field(default_factory=dict)
    version: str = "8.0.21"
    sku_tier: str = "GeneralPurpose"
    sku_name: str = "Standard_D2ds_v4"
    datasource_size_bytes: int = 2 * GIB
    #: Fixed export duration in emulated seconds (after the Pending phase); None = from size.
    export_seconds: float | None = None
    #: What validateBackup answers, and the fewest SAS URIs backupAndExport accepts.
    number_of_containers: int = 1
    #: Every export of this server ends Failed.
    fail_export: bool = False
    #: Every ARM call about this server is answered 403 AuthorizationFailed.
    forbidden: bool = False
    #: Fixed on-demand backup duration in emulated seconds; None = from size (see
    #: ``EmulatorConfig.backup_throughput_bytes_per_second``).
    backup_seconds: float | None = None
    #: How every on-demand backup of this server ends: "Succeeded", "Failed" or "Canceled"
    #: (a seeded ``EmulatorConfig.backup_fail_rate`` may still fail a "Succeeded" one).
    backup_outcome: str = "Succeeded"
    #: Daily automatic backups the server already has (listed by backupsV2, source
    #: "Automatic"; they do not count against the on-demand limit).
    automatic_backups: int = 0
    #: Succeeded on-demand backups the server already has when the emulator starts (they count
    #: against ``EmulatorConfig.backup_limit``).
    on_demand_backups: int = 0

    def __post_init__(self) -> None:
        if self.backup_outcome not in BACKUP_OUTCOMES:
            raise ValueError(
                f"backup_outcome must be one of {', '.join(BACKUP_OUTCOMES)}, "
                f"not {self.backup_outcome!r}"
            )
        if self.automatic_backups < 0 or self.on_demand_backups < 0:
            raise ValueError("automatic_backups and on_demand_backups must not be negative")

    @property
    def resource_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.DBforMySQL/flexibleServers/{self.name}"
        )


def default_fleet() -> tuple[ServerSpec, ...]:
    """Seven servers in two resource groups of the examples' subscription.

    TestGroup: mysqltestserver (Ready), mysqltestserver1 (Ready, MySQL 5.7, Burstable, no
    ``backup`` tag), mysqltestserver2 (Stopped). ProdGroup: orders-db (Ready), billing-db
    (forbidden), inventory-db (Ready, West Europe, exports and on-demand backups fail),
    analytics-db (Ready, needs two containers). Sizes 1-8 GiB: at 50 MiB/s an export takes about
    20 s to 3 min of emulated time, at 100 MiB/s an on-demand backup half that.
    """
    sub = DEFAULT_SUBSCRIPTION
    test = {"env": "test", "backup": "weekly"}
    prod = {"env": "prod", "backup": "weekly"}
    return (
        ServerSpec(sub, "TestGroup", "mysqltestserver", tags=test, datasource_size_bytes=2 * GIB),
        ServerSpec(
            sub,
            "TestGroup",
            "mysqltestserver1",
            tags={"env": "test"},
            version="5.7",
            sku_tier="Burstable",
            sku_name="Standard_B1ms",
            datasource_size_bytes=1 * GIB,
        ),
        ServerSpec(
            sub,
            "TestGroup",
            "mysqltestserver2",
            state="Stopped",
            tags=test,
            datasource_size_bytes=4 * GIB,
        ),
        ServerSpec(
            sub,
            "ProdGroup",
            "orders-db",
            tags=prod,
            sku_tier="MemoryOptimized",
            sku_name="Standard_E2ds_v4",
            datasource_size_bytes=6 * GIB,
        ),
        ServerSpec(
            sub, "ProdGroup", "billing-db", tags=prod, datasource_size_bytes=3 * GIB, forbidden=True
        ),
        ServerSpec(
            sub,
            "ProdGroup",
            "inventory-db",
            location="westeurope",
            tags=prod,
            datasource_size_bytes=5 * GIB,
            fail_export=True,
            backup_outcome="Failed",
        ),
        ServerSpec(
            sub,
            "ProdGroup",
            "analytics-db",
            tags=prod,
            sku_tier="MemoryOptimized",
            sku_name="Standard_E4ds_v4",
            datasource_size_bytes=8 * GIB,
            number_of_containers=2,
        ),
    )


_FLEET_LOCATIONS = ("eastus", "eastus2", "westus2", "westeurope", "northeurope")
_FLEET_SKUS = (
    ("Burstable", "Standard_B2s"),
    ("GeneralPurpose", "Standard_D2ds_v4"),
    ("GeneralPurpose", "Standard_D4ds_v4"),
    ("MemoryOptimized", "Standard_E2ds_v4"),
)


def make_fleet(
    n: int,
    seed: int,
    subscription: str = DEFAULT_SUBSCRIPTION,
    resource_groups: Sequence[str] | None = None,
    duration_sampler: Callable[[random.Random], float] | None = None,
    *,
    stopped_fraction: float = 0.02,
    forbidden_fraction: float = 0.0,
    fail_fraction: float = 0.0,
    throughput_bytes_per_second: float | None = 50.0 * 1024**2,
) -> tuple[ServerSpec, ...]:
    """``n`` servers named ``mysql-00000``... spread round-robin over ``resource_groups``.

    Everything else (size 1-8 GiB, location, SKU, version, tags ``env``/``backup``, Stopped with
    probability ``stopped_fraction``...) is drawn from ``random.Random(seed)``, so the same
    arguments always give the same fleet. ``duration_sampler(rng)``, if given, sets each server's
    ``export_seconds`` (e.g. ``lambda r: r.lognormvariate(5, 0.5)``); the server's size is then
    what takes that long at ``throughput_bytes_per_second`` (as on the service, a bigger database
    takes longer; ``None`` keeps sizes independent of durations).
    """
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    groups = list(resource_groups) if resource_groups else [f"fleet-rg-{i:02d}" for i in range(10)]
    rng = random.Random(seed)
    servers: list[ServerSpec] = []
    for i in range(n):
        # Draw in a fixed order so a seed always gives the same fleet.
        tier, sku = rng.choice(_FLEET_SKUS)
        env = rng.choice(("prod", "prod", "test", "dev"))
        backup = rng.choice(("weekly", "weekly", "daily", "none"))
        location = rng.choice(_FLEET_LOCATIONS)
        state = "Stopped" if rng.random() < stopped_fraction else "Ready"
        version = rng.choice(("8.0.21", "8.0.21", "5.7"))
        size = rng.randint(1 * GIB, 8 * GIB)
        seconds = duration_sampler(rng) if duration_sampler else None
        if seconds is not None and throughput_bytes_per_second:
            size = max(1, int(seconds * throughput_bytes_per_second))
        servers.append(
            ServerSpec(
                subscription=subscription,
                resource_group=groups[i % len(groups)],
                name=f"mysql-{i:05d}",
                location=location,
                state=state,
                tags={"env": env, "backup": backup, "index": str(i)},
                version=version,
                sku_tier=tier,
                sku_name=sku,
                datasource_size_bytes=size,
                export_seconds=seconds,
                forbidden=rng.random() < forbidden_fraction,
                fail_export=rng.random() < fail_fraction,
            )
        )
    return tuple(servers)
