"""Discovery split into bounded pieces, and the pieces put back together.

A run's ``discover`` may name up to 200 subscriptions and 1,000 resource groups. Listing all of
that in one activity could outlast the function timeout (``functionTimeout`` in host.json), and
one failed listing would lose every other scope. So discovery is cut into *scopes*: one per
subscription, or one per subscription and group of at most ``GROUPS_PER_SCOPE`` resource
groups. Each scope is one activity (``list_scope``); its answer is plain JSON; ``merge`` builds
the run's server list from the explicit servers and every scope's answer, with a problem (ARM's
own code) for each scope that could not be listed and a named problem when discovery matched no
server at all, so a typo can never turn a run into a silent no-op.

Pure functions: the orchestrator calls them with the activities' answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from mysqlexport import report
from mysqlexport.ids import ServerId
from mysqlexport.request import DEFAULT_STATES

#: Resource groups listed by one ``list_scope`` activity (each is one paged ARM list).
GROUPS_PER_SCOPE: Final = 25
#: How many ``list_scope`` activities run at once.
SCOPES_AT_ONCE: Final = 20
NO_SERVERS_MATCHED: Final = "NoServersMatched"


def scope_path(subscription: str, group: str | None = None) -> str:
    """``/subscriptions/{sub}[/resourceGroups/{group}]``: how a report names a scope."""
    return f"/subscriptions/{subscription}" + (f"/resourceGroups/{group}" if group else "")


def scopes(discover: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``list_scope`` inputs for one ``discover`` block (already validated)."""
    groups: list[str] = list(discover.get("resourceGroups") or [])
    chunks: list[list[str]] = (
        [groups[i : i + GROUPS_PER_SCOPE] for i in range(0, len(groups), GROUPS_PER_SCOPE)]
        if groups
        else [[]]
    )
    common = {
        "tags": dict(discover.get("tags") or {}),
        "states": list(discover.get("states") or DEFAULT_STATES),
    }
    return [
        {"subscription": sub, "resourceGroups": chunk, **common}
        for sub in discover.get("subscriptions") or []
        for chunk in chunks
    ]


def describe(scope: Mapping[str, Any]) -> str:
    """The scope as a reader would name it: the subscription, or its first group and a count."""
    groups = list(scope.get("resourceGroups") or [])
    if not groups:
        return scope_path(scope["subscription"])
    more = f" (+{len(groups) - 1} more resource groups)" if len(groups) > 1 else ""
    return scope_path(scope["subscription"], groups[0]) + more


@dataclass
class Resolution:
    """The servers of a run, largest first, and what discovery could not do."""

    servers: list[str] = field(default_factory=list)
    #: Provisioned storage (GB) in the same order; None where unknown (named explicitly).
    sizes: list[int | None] = field(default_factory=list)
    skipped: list[report.ServerRow] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)


def merge(
    explicit: Sequence[str],
    discover: Mapping[str, Any] | None,
    answers: Sequence[Mapping[str, Any]],
) -> Resolution:
    """Explicit servers plus every scope's answer, de-duplicated (case-insensitive ids).

    Servers named explicitly keep the order given and go first (nothing says they are small);
    discovered ones follow, largest first by provisioned storage, so the longest exports do not
    start last. A server both named and discovered is exported once, with its listed size.
    """
    selected: dict[str, str] = {}
    for raw in explicit:
        server = ServerId.parse(raw)
        selected.setdefault(server.key, server.resource_id)
    sizes: dict[str, int] = {}
    out = Resolution()
    skipped_keys: set[str] = set()
    matched = 0
    for answer in answers:
        out.problems.extend(answer.get("problems") or [])
        matched += int(answer.get("matched") or 0)
        for row in answer.get("skipped") or []:
            key = ServerId.parse(row["id"]).key
            if key not in selected and key not in skipped_keys:
                skipped_keys.add(key)
                out.skipped.append(row)
        for resource_id, size in answer.get("servers") or []:
            server = ServerId.parse(resource_id)
            if isinstance(size, int):
                sizes[server.key] = size
            if server.key not in skipped_keys:
                selected.setdefault(server.key, server.resource_id)
    unknown = [rid for key, rid in selected.items() if key not in sizes]
    known = sorted(
        ((key, rid) for key, rid in selected.items() if key in sizes),
        key=lambda item: (-sizes[item[0]], item[0]),
    )
    out.servers = unknown + [rid for _, rid in known]
    out.sizes = [None] * len(unknown) + [sizes[key] for key, _ in known]
    if discover and matched == 0 and not any(p.get("scope") for p in out.problems):
        out.problems.append(nothing_matched(discover))
    return out


def nothing_matched(discover: Mapping[str, Any]) -> dict[str, Any]:
    """The problem a discovery that found no server at all is reported with."""
    subs = list(discover.get("subscriptions") or [])
    groups = list(discover.get("resourceGroups") or [])
    where = f"{len(subs)} subscription(s)" + (
        f", {len(groups)} resource group(s)" if groups else ""
    )
    tags = discover.get("tags") or {}
    which = f" with tags {dict(tags)}" if tags else ""
    return {
        "code": NO_SERVERS_MATCHED,
        "message": f"discovery found no flexible server{which} in {where}: nothing to export",
    }
