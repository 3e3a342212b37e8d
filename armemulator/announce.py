"""What ``python -m armemulator`` tells a person at start: everything needed to try it.

Why this module exists: someone trying the app locally should not have to read the source to
learn where the emulator listens, which identity secret it expects, which subscriptions,
resource groups and servers it pretends exist, and what a request to the app looks like - an
export, and an on-demand backup (backupsV2: the app's request, and the ARM call it makes, with
how this emulator answers it). The CLI prints this text after its one machine-readable JSON
line; the export body is the one line that starts with "{". A pure function of the running
emulator, so it lists what is actually served (the default fleet, ``--fleet-size`` or scopes).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from armemulator.clock import ScaledClock, VirtualClock
from armemulator.config import BackupAnswer, BackupNaming, parse_scopes
from armemulator.emulator import Emulator
from armemulator.fleet import GIB, ServerSpec

#: Servers listed by resource id (the rest are counted).
FIRST_SERVERS = 10
#: Resource groups listed per subscription, and subscriptions listed (the rest are counted).
FIRST_GROUPS = 10
FIRST_SUBSCRIPTIONS = 10
#: Stands for a container SAS URI in the example: the emulator checks its form (https, a host,
#: a container path, ``sig=``) and never contacts storage.
EXAMPLE_SAS = (
    "https://example.blob.core.windows.net/backups{n}?sv=2022-11-02&sr=c&sp=rcw&sig=emulated"
)


def _clock(emu: Emulator) -> str:
    clock = emu.clock
    if isinstance(clock, VirtualClock):
        return "virtual clock: POST /_emulator/clock/advance?seconds=N moves it"
    if isinstance(clock, ScaledClock):
        return f"time runs {clock.scale:g}x faster than real time"
    return "wall clock"


def _traits(spec: ServerSpec) -> str:
    traits = [spec.state, f"{spec.datasource_size_bytes / GIB:.1f} GiB", spec.location]
    if spec.number_of_containers > 1:
        traits.append(f"needs {spec.number_of_containers} SAS URIs")
    if spec.forbidden:
        traits.append("the identity may not touch it (403)")
    if spec.fail_export:
        traits.append("its exports fail")
    if spec.backup_outcome != "Succeeded":
        traits.append(f"its on-demand backups end {spec.backup_outcome}")
    return ", ".join(traits)


def example_request(servers: list[ServerSpec], subscriptions: list[str]) -> dict[str, Any]:
    """A body for the app's ``POST /api/exports`` that discovers what this emulator serves."""
    containers = min(64, max((s.number_of_containers for s in servers), default=1))
    return {
        "discover": {"subscriptions": subscriptions[:1]},
        "target": {"sasUriList": [EXAMPLE_SAS.format(n=i + 1) for i in range(containers)]},
    }


#: The app's request for an on-demand backup run (issue 12's shape: no target, a name template).
BACKUP_NAME_TEMPLATE = "{server}-{utc:yyyyMMddHHmmss}"

_ANSWERS = {
    BackupAnswer.LOCATION: "202 with Location (an operationStatus URL on api-version {status})",
    BackupAnswer.ASYNC_OPERATION: "202 with Azure-AsyncOperation and Location "
    "(api-version {status})",
    BackupAnswer.CREATED: "201 with the backup (provisioningState Creating), no polling URL",
    BackupAnswer.COMPLETED: "200 with the finished backup",
}


def example_backup_request(subscriptions: list[str]) -> dict[str, Any]:
    """A body for the app's ``POST /api/exports`` that backs up what this emulator serves."""
    return {
        "operation": "backup",
        "discover": {"subscriptions": subscriptions[:1]},
        "backupName": BACKUP_NAME_TEMPLATE,
    }


def _backup_lines(emu: Emulator, subscriptions: list[str]) -> list[str]:
    config = emu.config
    answer = _ANSWERS[BackupAnswer(config.backup_answer)].format(
        status=config.backup_status_api_version
    )
    quirks = []
    if config.backup_succeeded_state != "Succeeded":
        quirks.append(f"reports provisioningState {config.backup_succeeded_state!r} when done")
    if config.backup_names is BackupNaming.PREFIXED:
        quirks.append("names each backup customer_<time>_<guid>_<name>")
    if config.backups_paused is not None:
        quirks.append(f"refuses every create ({config.backups_paused[1]})")
    return [
        "",
        "An on-demand backup run (backupsV2) over the same servers: the request body",
        f"  {json.dumps(example_backup_request(subscriptions))}",
        "makes the app call, for each server (no body needed):",
        f"  PUT {emu.url}/subscriptions/<subscription>/resourceGroups/<resourceGroup>"
        "/providers/Microsoft.DBforMySQL/flexibleServers/<server>/backupsV2/<name>"
        "?api-version=2024-12-30",
        f"which this emulator answers {answer}"
        + (f"; it {', '.join(quirks)}" if quirks else "")
        + f"; at most {config.backup_limit} on-demand backups per server.",
    ]


def announcement(emu: Emulator) -> str:
    """The text the CLI prints once the emulator serves."""
    config = emu.config
    servers = emu.servers()
    groups: Counter[tuple[str, str]] = Counter((s.subscription, s.resource_group) for s in servers)
    subscriptions = sorted({s.subscription for s in servers}, key=str.lower)
    lines = [
        f"ARM emulator for Microsoft.DBforMySQL flexible servers on {emu.url} ({_clock(emu)})",
        "",
        "Point the app (or azure-identity's managed identity credential) at it:",
        f"  ARM_ENDPOINT={emu.url}",
        f"  IDENTITY_ENDPOINT={emu.token_endpoint}",
        f"  IDENTITY_HEADER={emu.identity_header}"
        if emu.identity_header_generated
        else "  IDENTITY_HEADER  (the value already in your environment)",
        "",
        f"It serves {len(servers)} server(s) in {len(subscriptions)} subscription(s):",
    ]
    for subscription in subscriptions[:FIRST_SUBSCRIPTIONS]:
        mine = sorted(
            ((g, n) for (sub, g), n in groups.items() if sub == subscription),
            key=lambda item: item[0].lower(),
        )
        lines.append(f"  subscription {subscription}")
        lines.extend(f"    resource group {g}: {n} server(s)" for g, n in mine[:FIRST_GROUPS])
        if len(mine) > FIRST_GROUPS:
            lines.append(f"    ... and {len(mine) - FIRST_GROUPS} more resource groups")
    if len(subscriptions) > FIRST_SUBSCRIPTIONS:
        lines.append(f"  ... and {len(subscriptions) - FIRST_SUBSCRIPTIONS} more subscriptions")
    for label, scopes in (
        ("forbidden (403)", config.forbidden_scopes),
        ("without servers", config.extra_scopes),
    ):
        if scopes:
            lines.append(f"  scopes {label}: {', '.join(sorted(scopes))}")
    shown = servers[:FIRST_SERVERS]
    lines += ["", f"Servers (the first {len(shown)} of {len(servers)}, by resource id):"]
    for spec in shown:
        lines += [f"  {spec.resource_id}", f"      {_traits(spec)}"]
    known = subscriptions or sorted({s for s, _ in parse_scopes(config.extra_scopes)})
    if known:
        lines += [
            "",
            "A request body to try: save it as request.json and run "
            "`python -m devhost run request.json`, or POST it to the app's /api/exports",
            "(the SAS URIs only need the right form: the emulator never contacts storage):",
            json.dumps(example_request(servers, known)),
        ]
        lines += _backup_lines(emu, known)
    lines += ["", "Serving until Ctrl-C or SIGTERM."]
    return "\n".join(lines)
