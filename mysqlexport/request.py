"""The export request: what ``POST /api/exports`` (and a schedule) may ask for, validated.

Parsing is pure and strict. Every problem is collected and reported with the JSON path of the field
(``servers[3]``, ``target.sasUriList[0]``), unknown fields are refused (a typo must not silently
export nothing), and limits keep one request from being unreasonably large. Nothing starts unless
the whole request is valid.

An export's target is one of two forms: ``target.containers``, blob container URLs without a SAS
(the recommended form: the submit activity mints a short user-delegation SAS per export with the
app's identity, so no request, setting or Logic App holds one; the URLs are no secret and may be
kept, logged and reported), or ``target.sasUriList``, container SAS URIs given by the caller
(secrets: sealed before anything is persisted, never echoed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from mysqlexport.armspec import BACKUP, EXPORT, OPERATIONS, check_backup_format
from mysqlexport.containers import parse_container_url
from mysqlexport.errors import InvalidRequest
from mysqlexport.ids import ServerId, validate_resource_group, validate_subscription
from mysqlexport.naming import DEFAULT_TEMPLATE, check_template
from mysqlexport.redaction import SecretUri

MAX_BODY_BYTES: Final = 4 * 1024 * 1024
MAX_SERVERS: Final = 20_000
MAX_SUBSCRIPTIONS: Final = 200
MAX_RESOURCE_GROUPS: Final = 1_000
MAX_TAGS: Final = 50
MAX_TAG_LENGTH: Final = 512
MAX_SAS_URIS: Final = 64
MAX_SAS_LENGTH: Final = 4_096
MAX_CONCURRENCY: Final = 1_000
MAX_DEADLINE_MINUTES: Final = 7 * 24 * 60
#: The states a discovered server must be in when ``discover.states`` is not given.
DEFAULT_STATES: Final = ("Ready",)
SERVER_STATES: Final = (
    "Ready",
    "Dropping",
    "Disabled",
    "Starting",
    "Stopping",
    "Stopped",
    "Updating",
)
TOP_LEVEL_FIELDS: Final = frozenset(
    {
        "servers",
        "discover",
        "target",
        "backupName",
        "backupFormat",
        "maxConcurrency",
        "deadlineMinutes",
        "dryRun",
        "operation",
    }
)


@dataclass(frozen=True)
class Discovery:
    """Which servers to find through ARM's list APIs."""

    subscriptions: tuple[str, ...]
    resource_groups: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    states: tuple[str, ...] = DEFAULT_STATES

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "subscriptions": list(self.subscriptions),
            "resourceGroups": list(self.resource_groups),
            "tags": dict(self.tags),
            "states": list(self.states),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Discovery:
        """Inverse of ``to_dict`` (trusted input)."""
        return cls(
            subscriptions=tuple(data["subscriptions"]),
            resource_groups=tuple(data.get("resourceGroups", ())),
            tags=dict(data.get("tags", {})),
            states=tuple(data.get("states", DEFAULT_STATES)),
        )


@dataclass(frozen=True)
class Target:
    """An export's target: SAS URIs given by the caller (secrets) or container URLs (no SAS:
    the app mints one per export). A valid target has exactly one of the two."""

    sas_uris: tuple[SecretUri, ...] = ()
    #: Normalised container URLs (``mysqlexport.containers.ContainerUrl.url``).
    containers: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        """How many containers the export gets (compared with ``numberOfContainers``)."""
        return len(self.containers) or len(self.sas_uris)


@dataclass(frozen=True)
class RunRequest:
    """A validated request for a run. ``sas_uris`` are secrets: seal them before persisting
    anything; ``containers`` (the other form of a target) are not. A backup run (``operation``
    ``backup``) has neither: its backups stay in the service."""

    servers: tuple[ServerId, ...]
    discover: Discovery | None
    sas_uris: tuple[SecretUri, ...]
    operation: str = EXPORT
    backup_name: str = DEFAULT_TEMPLATE
    backup_format: str | None = None
    max_concurrency: int | None = None
    deadline_minutes: int | None = None
    dry_run: bool = False
    containers: tuple[str, ...] = ()

    @property
    def target(self) -> Target:
        """The export's target (empty in a backup run)."""
        return Target(self.sas_uris, self.containers)

    def public_dict(self) -> dict[str, Any]:
        """Everything but the SAS URIs: safe for durable state, logs, status responses and the
        report. The container URLs are in it (no secret); a SAS list only by its count."""
        return {
            "servers": [s.resource_id for s in self.servers],
            "discover": self.discover.to_dict() if self.discover else None,
            "sasUriCount": len(self.sas_uris),
            "containers": list(self.containers),
            "backupName": self.backup_name,
            "backupFormat": self.backup_format,
            "maxConcurrency": self.max_concurrency,
            "deadlineMinutes": self.deadline_minutes,
            "dryRun": self.dry_run,
            "operation": self.operation,
        }

    @property
    def backup(self) -> bool:
        """An on-demand backup run (backupsV2), not an export."""
        return self.operation == BACKUP


def _int_field(
    body: Mapping[str, Any], name: str, low: int, high: int, problems: dict[str, str]
) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        problems[name] = f"must be a whole number from {low} to {high}"
        return None
    if not low <= value <= high:
        problems[name] = f"must be from {low} to {high} (got {value})"
        return None
    return value


def _each_valid(
    items: list[str],
    field: str,
    check: Callable[[str, str], str],
    why: str,
    problems: dict[str, str],
) -> list[str]:
    """What ``check(item, path)`` makes of each item it accepts; ``why`` is the problem of
    ``field[i]`` for each it refuses."""
    kept: list[str] = []
    for i, item in enumerate(items):
        path = f"{field}[{i}]"
        try:
            kept.append(check(item, path))
        except InvalidRequest:
            problems[path] = why
    return kept


def _string_list(value: object, path: str, limit: int, problems: dict[str, str]) -> list[str]:
    if not isinstance(value, list):
        problems[path] = "must be an array of strings"
        return []
    if len(value) > limit:
        problems[path] = f"must have at most {limit} entries (got {len(value)})"
        return []
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            problems[f"{path}[{i}]"] = "must be a string"
        else:
            out.append(item)
    return out


def _check_sas(uri: str) -> str | None:
    if len(uri) > MAX_SAS_LENGTH:
        return f"must be at most {MAX_SAS_LENGTH} characters"
    if not uri.isascii() or not uri.isprintable() or " " in uri:
        return "must be a URL of printable ASCII characters (percent-encode the rest)"
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError:
        return "is not a URL"
    if parts.scheme != "https" or not parts.hostname:
        return "must be an absolute https URL of a blob container"
    if parts.username or parts.password or parts.fragment:
        return "must not carry user info or a fragment"
    query = parse_qs(parts.query, keep_blank_values=True)
    if not query.get("sig") or not query["sig"][0]:
        return "is not a SAS URI (no 'sig' parameter)"
    if not parts.path.strip("/"):
        return "must name a container (https://account.blob.core.windows.net/container?...)"
    return None


def _parse_servers(value: object, problems: dict[str, str]) -> list[ServerId]:
    servers: list[ServerId] = []
    for i, raw in enumerate(_string_list(value, "servers", MAX_SERVERS, problems)):
        try:
            servers.append(ServerId.parse(raw, f"servers[{i}]"))
        except InvalidRequest as err:
            problems.update(err.problems)
    return servers


def _parse_discover(value: object, problems: dict[str, str]) -> Discovery | None:
    if not isinstance(value, Mapping):
        problems["discover"] = "must be an object with 'subscriptions'"
        return None
    unknown = set(value) - {"subscriptions", "resourceGroups", "tags", "states"}
    for name in sorted(unknown):
        problems[f"discover.{name}"] = "is not a known field"
    raw_subs = _string_list(
        value.get("subscriptions"), "discover.subscriptions", MAX_SUBSCRIPTIONS, problems
    )
    if "subscriptions" not in value or (not raw_subs and "discover.subscriptions" not in problems):
        problems["discover.subscriptions"] = "must list at least one subscription id"
    subs = _each_valid(
        raw_subs,
        "discover.subscriptions",
        validate_subscription,
        "is not a subscription id (a GUID)",
        problems,
    )
    groups: list[str] = []
    if value.get("resourceGroups") is not None:
        raw = _string_list(
            value["resourceGroups"], "discover.resourceGroups", MAX_RESOURCE_GROUPS, problems
        )
        groups = _each_valid(
            raw,
            "discover.resourceGroups",
            validate_resource_group,
            "is not a resource group name",
            problems,
        )
    tags: dict[str, str] = {}
    raw_tags = value.get("tags")
    if raw_tags is not None:
        if not isinstance(raw_tags, Mapping) or len(raw_tags) > MAX_TAGS:
            problems["discover.tags"] = f"must be an object of at most {MAX_TAGS} string tags"
        else:
            for k, v in raw_tags.items():
                if not isinstance(v, str) or len(k) > MAX_TAG_LENGTH or len(v) > MAX_TAG_LENGTH:
                    problems[f"discover.tags.{k[:64]}"] = "must be a string of at most 512"
                else:
                    tags[k] = v
    states: list[str] = list(DEFAULT_STATES)
    if value.get("states") is not None:
        states = _string_list(value["states"], "discover.states", len(SERVER_STATES), problems)
        lowered = {s.lower(): s for s in SERVER_STATES}
        for i, state in enumerate(states):
            if state.lower() not in lowered:
                problems[f"discover.states[{i}]"] = f"must be one of {', '.join(SERVER_STATES)}"
        states = [lowered.get(s.lower(), s) for s in states]
        if not states and "discover.states" not in problems:
            problems["discover.states"] = "must list at least one state"
    return Discovery(tuple(subs), tuple(groups), tags, tuple(states))


def parse_target(value: object) -> Target:
    """Validate a ``target`` alone (a retry's new target); ``InvalidRequest`` names every bad
    part as ``parse_request`` would."""
    problems: dict[str, str] = {}
    target = _parse_target(value, problems)
    if problems:
        raise InvalidRequest(problems)
    return target


TARGET_FIELDS: Final = ("containers", "sasUriList")


def _parse_target(value: object, problems: dict[str, str]) -> Target:
    """Exactly one of ``target.containers`` and ``target.sasUriList``."""
    if not isinstance(value, Mapping):
        problems["target"] = "must be an object with 'containers' (or 'sasUriList')"
        return Target()
    for name in sorted(set(value) - set(TARGET_FIELDS), key=str):
        problems[f"target.{str(name)[:100]}"] = "is not a known field"
    given = [name for name in TARGET_FIELDS if value.get(name) is not None]
    if len(given) > 1:
        problems["target"] = (
            "give 'containers' (the app mints a SAS per export) or 'sasUriList', not both"
        )
        return Target()
    if given == ["containers"]:
        return Target(containers=tuple(_parse_containers(value["containers"], problems)))
    if not given and "sasUriList" not in value:
        problems["target"] = (
            "must give 'containers' (blob container URLs, no SAS: the app mints one per export) "
            "or 'sasUriList'"
        )
        return Target()
    return Target(sas_uris=tuple(_parse_sas_list(value.get("sasUriList"), problems)))


def _parse_containers(value: object, problems: dict[str, str]) -> list[str]:
    path = "target.containers"
    urls = _string_list(value, path, MAX_SAS_URIS, problems)
    if not urls and path not in problems:
        problems[path] = "must list at least one blob container URL"
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, url in enumerate(urls):
        try:
            container = parse_container_url(url).url
        except ValueError as err:
            problems[f"{path}[{i}]"] = str(err)  # the URL itself is never echoed
            continue
        if container in seen:
            problems[f"{path}[{i}]"] = f"names the same container as {path}[{seen[container]}]"
            continue
        seen[container] = i
        out.append(container)
    return out


def _parse_sas_list(value: object, problems: dict[str, str]) -> list[SecretUri]:
    uris = _string_list(value, "target.sasUriList", MAX_SAS_URIS, problems)
    if not uris and "target.sasUriList" not in problems:
        problems["target.sasUriList"] = "must list at least one container SAS URI"
    out = []
    for i, uri in enumerate(uris):
        why = _check_sas(uri)
        if why:
            problems[f"target.sasUriList[{i}]"] = why  # the URI itself is never echoed
        else:
            out.append(SecretUri(uri))
    return out


def parse_request(body: object) -> RunRequest:
    """Validate a decoded JSON body; raise ``InvalidRequest`` naming every bad field."""
    problems: dict[str, str] = {}
    if not isinstance(body, Mapping):
        raise InvalidRequest({"body": "must be a JSON object"})
    for name in sorted(set(body) - TOP_LEVEL_FIELDS, key=str):
        problems[str(name)[:100]] = "is not a known field"

    servers = _parse_servers(body["servers"], problems) if body.get("servers") is not None else []
    discover = (
        _parse_discover(body["discover"], problems) if body.get("discover") is not None else None
    )
    if body.get("servers") is None and discover is None and "discover" not in problems:
        problems["servers"] = "give 'servers' (resource ids) and/or 'discover'"
    elif body.get("servers") is not None and not servers and discover is None:
        problems.setdefault("servers", "must list at least one server resource id")
    operation = body.get("operation", EXPORT)
    if operation not in OPERATIONS:
        problems["operation"] = (
            "must be 'export' (backupAndExport to your containers, the default) or 'backup' "
            "(an on-demand backup kept in the service, backupsV2)"
        )
    backup = operation == BACKUP
    target = Target() if backup else _parse_target(body.get("target"), problems)
    if backup and body.get("target") is not None:
        problems["target"] = (
            "is not taken by a backup run: an on-demand backup stays in the service and cannot "
            "be exported (use operation 'export' to copy backups to your containers)"
        )

    template = body.get("backupName", DEFAULT_TEMPLATE)
    try:
        check_template(template, backup=backup)
    except InvalidRequest as err:
        problems.update(err.problems)
    backup_format = body.get("backupFormat")
    if backup_format is not None and backup:
        problems["backupFormat"] = "is not taken by a backup run (backupsV2 has no format)"
    elif backup_format is not None:
        try:
            check_backup_format(backup_format)
        except InvalidRequest as err:
            problems.update(err.problems)
    concurrency = _int_field(body, "maxConcurrency", 1, MAX_CONCURRENCY, problems)
    deadline = _int_field(body, "deadlineMinutes", 1, MAX_DEADLINE_MINUTES, problems)
    dry_run = body.get("dryRun", False)
    if not isinstance(dry_run, bool):
        problems["dryRun"] = "must be true or false"

    unique: dict[str, ServerId] = {}
    for server in servers:
        unique.setdefault(server.key, server)
    if problems:
        raise InvalidRequest(problems)
    return RunRequest(
        servers=tuple(unique.values()),
        discover=discover,
        sas_uris=target.sas_uris,
        containers=target.containers,
        backup_name=template,
        backup_format=backup_format,
        max_concurrency=concurrency,
        deadline_minutes=deadline,
        dry_run=bool(dry_run),
        operation=str(operation),
    )
