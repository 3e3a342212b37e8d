"""Values the ARM client returns: plain and frozen, read from ARM's bodies with ``from_body``.

None of them holds a SAS URI or a token. What crosses an activity boundary is their JSON form
in ``workflow.contracts`` (one key style, ARM's camelCase).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from mysqlexport import lro
from mysqlexport.ids import ServerId


def _properties(body: Mapping[str, Any]) -> Mapping[str, Any]:
    props = body.get("properties")
    return props if isinstance(props, Mapping) else {}


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _opt_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _opt_float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


@dataclass(frozen=True)
class ErrorDetail:
    """ARM's ``ErrorDetail``: the service's own code and message."""

    code: str
    message: str
    target: str | None = None

    @classmethod
    def from_body(cls, body: object) -> ErrorDetail | None:
        """Read ``{code, message, target}``; ``None`` if there is no error object."""
        if not isinstance(body, Mapping):
            return None
        code = _opt_str(body.get("code"))
        message = _opt_str(body.get("message"))
        if code is None and message is None:
            return None
        return cls(code or "Unknown", message or "", _opt_str(body.get("target")))

    def to_dict(self) -> dict[str, Any]:
        """JSON form, without empty fields."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            out["target"] = self.target
        return out


@dataclass(frozen=True)
class AcceptedOperation:
    """An export or on-demand backup ARM accepted (202): where to poll and when."""

    location_url: str | None
    async_operation_url: str | None
    retry_after: float | None
    request_id: str | None

    @property
    def status_url(self) -> str:
        """The URL to poll for status: Azure-AsyncOperation when given, else Location."""
        url = self.async_operation_url or self.location_url
        if url is None:  # construction guarantees one of them
            raise ValueError("an accepted operation has no polling URL")
        return url


class Outcome:
    """``is_terminal`` and ``succeeded`` of a value that states an outcome (``outcome``)."""

    @property
    def outcome(self) -> str | None:
        """The state the value reports (overridden)."""
        raise NotImplementedError

    @property
    def is_terminal(self) -> bool:
        """Succeeded, Failed or Canceled."""
        return lro.is_terminal(self.outcome)

    @property
    def succeeded(self) -> bool:
        """True when it ended Succeeded."""
        return lro.is_succeeded(self.outcome)


@dataclass(frozen=True)
class ExportFigures(Outcome):
    """What both an operation's status and its final result say about the export."""

    status: str
    percent_complete: float | None = None
    error: ErrorDetail | None = None
    start_time: str | None = None
    end_time: str | None = None
    datasource_size_bytes: int | None = None
    data_transferred_bytes: int | None = None

    @property
    def outcome(self) -> str | None:
        """The export's ``status``."""
        return self.status

    @staticmethod
    def read(body: Mapping[str, Any]) -> dict[str, Any]:
        """The figures of an operation status or ``BackupAndExportResponse`` body, as keyword
        arguments (the byte counts are under ``properties``)."""
        props = _properties(body)
        return {
            "status": str(body.get("status")),
            "percent_complete": _opt_float(body.get("percentComplete")),
            "error": ErrorDetail.from_body(body.get("error")),
            "start_time": _opt_str(body.get("startTime")),
            "end_time": _opt_str(body.get("endTime")),
            "datasource_size_bytes": _opt_int(props.get("datasourceSizeInBytes")),
            "data_transferred_bytes": _opt_int(props.get("dataTransferredInBytes")),
        }


@dataclass(frozen=True)
class OperationStatus(ExportFigures):
    """One read of the operation's status resource (Azure-AsyncOperation URL)."""

    retry_after: float | None = None
    #: ``OperationStatusResult.resourceId`` (common-types v5): the resource the operation acts
    #: on, e.g. an on-demand backup's real id, whose name may differ from the one asked for.
    resource_id: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any], retry_after: float | None) -> OperationStatus:
        """Read an ARM operation status (or BackupAndExportResponse) body."""
        return cls(
            **ExportFigures.read(body),
            retry_after=retry_after,
            resource_id=_opt_str(body.get("resourceId")),
        )


@dataclass(frozen=True)
class ExportResult(ExportFigures):
    """The final ``BackupAndExportResponse`` of an export."""

    name: str | None = None
    resource_id: str | None = None
    backup_metadata: str | None = None
    request_id: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any], request_id: str | None) -> ExportResult:
        """Read a BackupAndExportResponse body."""
        return cls(
            **ExportFigures.read(body),
            name=_opt_str(body.get("name")),
            resource_id=_opt_str(body.get("id")),
            backup_metadata=_opt_str(_properties(body).get("backupMetadata")),
            request_id=request_id,
        )


@dataclass(frozen=True)
class StillRunning:
    """The Location URL answered 202: the export (or on-demand backup) has not finished."""

    retry_after: float | None = None
    #: ``percentComplete`` when the 202 carried a status body (an on-demand backup's may).
    percent_complete: float | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any], retry_after: float | None) -> StillRunning:
        """Read what a still-running answer's body says (nothing is required)."""
        return cls(retry_after, _opt_float(body.get("percentComplete")))


#: ``provisioningState`` values read as "Succeeded": both backupsV2 examples of api-version
#: 2024-12-30 (LongRunningBackup.json, LongRunningBackupsListByServer.json) show a finished
#: backup as "Ready", which the ``ProvisioningState`` enum does not list
#: (shared/reference/specs/LongRunningBackup.2024-12-30.json).
SUCCEEDED_ALIASES: Final = frozenset({"ready"})


@dataclass(frozen=True)
class BackupResource(Outcome):
    """A backupsV2 resource (``ServerBackupV2``), or the final body of its Location URL.

    Read liberally, as the spec and its examples disagree: a body without ``properties``, and an
    ``OperationStatusResult`` in place of the resource (``id`` is then its ``resourceId`` and the
    outcome its ``status``), are both understood.
    """

    #: The real ARM resource id (its name may differ from the one the PUT asked for).
    id: str | None
    name: str | None
    backup_type: str | None  # properties.backupType
    completed_time: str | None  # properties.completedTime
    source: str | None  # properties.source
    #: As ARM wrote it ("Ready" kept as written; ``state`` normalises it).
    provisioning_state: str | None
    #: ARM's error, when the body carries one (a failed backup's Location or status body).
    error: ErrorDetail | None = None
    #: The outcome when there is no ``provisioningState``: the body's operation ``status``, else
    #: what ARM's rules give the answer it came in (``from_body``'s ``default_status``).
    status: str | None = None
    #: The server's advice on when to read again (the 201 of a PUT carries one).
    retry_after: float | None = None
    #: ``x-ms-request-id`` of the answer it came in.
    request_id: str | None = None
    #: ``endTime`` of the operation, when the body is (or carries) its status.
    end_time: str | None = None

    @property
    def state(self) -> str | None:
        """The provisioning state (else ``status``), "Ready" read as "Succeeded"."""
        state = self.provisioning_state or self.status
        if state is not None and state.lower() in SUCCEEDED_ALIASES:
            return "Succeeded"
        return state

    @property
    def outcome(self) -> str | None:
        """``state``: what ``is_terminal`` and ``succeeded`` judge."""
        return self.state

    @classmethod
    def from_body(
        cls,
        body: Mapping[str, Any],
        *,
        default_status: str | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> BackupResource:
        """Read a ``ServerBackupV2`` (or an ``OperationStatusResult`` standing for one).

        ``default_status`` is the outcome when the body states none: ARM reads a 200 without a
        ``provisioningState`` as Succeeded, a 201 without one as still running (azure-mgmt-core
        1.6.0, ``azure/mgmt/core/polling/arm_polling.py`` ``BodyContentPolling``:
        ``return status or "Succeeded"`` for a 200, ``status or "InProgress"`` for a 201).
        """
        operation = "properties" not in body and isinstance(body.get("status"), str)
        resource_id = _opt_str(body.get("resourceId"))
        if resource_id is None and not operation:
            resource_id = _opt_str(body.get("id"))
        name = None if operation else _opt_str(body.get("name"))
        if name is None and resource_id:
            name = resource_id.rstrip("/").rsplit("/", 1)[-1]
        props = _properties(body)
        return cls(
            id=resource_id,
            name=name,
            backup_type=_opt_str(props.get("backupType")),
            completed_time=_opt_str(props.get("completedTime")),
            source=_opt_str(props.get("source")),
            provisioning_state=_opt_str(props.get("provisioningState")),
            error=ErrorDetail.from_body(body.get("error")),
            status=_opt_str(body.get("status")) or default_status,
            retry_after=retry_after,
            request_id=request_id,
            end_time=_opt_str(body.get("endTime")),
        )


@dataclass(frozen=True)
class ServerInfo:
    """What the workflow needs to know about a server from ARM."""

    id: ServerId
    location: str | None
    state: str | None
    tags: Mapping[str, str] = field(default_factory=dict)
    version: str | None = None
    sku_tier: str | None = None
    #: Provisioned storage (GB): the size hint used to export the largest servers first.
    storage_gb: int | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ServerInfo:
        """Read an ARM ``Server`` resource."""
        props = _properties(body)
        sku = body.get("sku")
        sku = sku if isinstance(sku, Mapping) else {}
        storage = props.get("storage")
        storage = storage if isinstance(storage, Mapping) else {}
        tags = body.get("tags")
        clean_tags = {str(k): str(v) for k, v in tags.items()} if isinstance(tags, Mapping) else {}
        return cls(
            id=ServerId.parse(str(body.get("id"))),
            location=_opt_str(body.get("location")),
            state=_opt_str(props.get("state")),
            tags=clean_tags,
            version=_opt_str(props.get("version")),
            sku_tier=_opt_str(sku.get("tier")),
            storage_gb=_opt_int(storage.get("storageSizeGB")),
        )
