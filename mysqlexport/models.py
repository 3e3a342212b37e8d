"""Values the ARM client returns: plain, frozen, and JSON round-trippable.

Anything that crosses an activity boundary in the workflow must be JSON, so each type has
``to_dict``/``from_dict``. None of them holds a SAS URI or a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from mysqlexport import lro
from mysqlexport.ids import ServerId


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
    """An export ARM accepted (202): where to poll and when."""

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

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AcceptedOperation:
        """Inverse of ``to_dict``."""
        return cls(
            location_url=_opt_str(data.get("location_url")),
            async_operation_url=_opt_str(data.get("async_operation_url")),
            retry_after=_opt_float(data.get("retry_after")),
            request_id=_opt_str(data.get("request_id")),
        )


@dataclass(frozen=True)
class OperationStatus:
    """One read of the operation's status resource (Azure-AsyncOperation URL)."""

    status: str
    percent_complete: float | None = None
    error: ErrorDetail | None = None
    start_time: str | None = None
    end_time: str | None = None
    datasource_size_bytes: int | None = None
    data_transferred_bytes: int | None = None
    retry_after: float | None = None

    @property
    def is_terminal(self) -> bool:
        """Succeeded, Failed or Canceled."""
        return lro.is_terminal(self.status)

    @property
    def succeeded(self) -> bool:
        """True when the operation ended Succeeded."""
        return lro.is_succeeded(self.status)

    @classmethod
    def from_body(cls, body: Mapping[str, Any], retry_after: float | None) -> OperationStatus:
        """Read an ARM operation status (or BackupAndExportResponse) body."""
        props = body.get("properties")
        props = props if isinstance(props, Mapping) else {}
        return cls(
            status=str(body.get("status")),
            percent_complete=_opt_float(body.get("percentComplete")),
            error=ErrorDetail.from_body(body.get("error")),
            start_time=_opt_str(body.get("startTime")),
            end_time=_opt_str(body.get("endTime")),
            datasource_size_bytes=_opt_int(props.get("datasourceSizeInBytes")),
            data_transferred_bytes=_opt_int(props.get("dataTransferredInBytes")),
            retry_after=retry_after,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = asdict(self)
        out["error"] = self.error.to_dict() if self.error else None
        return out


@dataclass(frozen=True)
class ExportResult:
    """The final ``BackupAndExportResponse`` of an export."""

    status: str
    name: str | None = None
    resource_id: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    percent_complete: float | None = None
    datasource_size_bytes: int | None = None
    data_transferred_bytes: int | None = None
    backup_metadata: str | None = None
    error: ErrorDetail | None = None
    request_id: str | None = None

    @property
    def succeeded(self) -> bool:
        """True when the export ended Succeeded."""
        return lro.is_succeeded(self.status)

    @classmethod
    def from_body(cls, body: Mapping[str, Any], request_id: str | None) -> ExportResult:
        """Read a BackupAndExportResponse body."""
        props = body.get("properties")
        props = props if isinstance(props, Mapping) else {}
        return cls(
            status=str(body.get("status")),
            name=_opt_str(body.get("name")),
            resource_id=_opt_str(body.get("id")),
            start_time=_opt_str(body.get("startTime")),
            end_time=_opt_str(body.get("endTime")),
            percent_complete=_opt_float(body.get("percentComplete")),
            datasource_size_bytes=_opt_int(props.get("datasourceSizeInBytes")),
            data_transferred_bytes=_opt_int(props.get("dataTransferredInBytes")),
            backup_metadata=_opt_str(props.get("backupMetadata")),
            error=ErrorDetail.from_body(body.get("error")),
            request_id=request_id,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = asdict(self)
        out["error"] = self.error.to_dict() if self.error else None
        return out


@dataclass(frozen=True)
class StillRunning:
    """The Location URL answered 202: the export has not finished."""

    retry_after: float | None = None


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
        props = body.get("properties")
        props = props if isinstance(props, Mapping) else {}
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

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id.resource_id,
            "location": self.location,
            "state": self.state,
            "tags": dict(self.tags),
            "version": self.version,
            "skuTier": self.sku_tier,
            "storageGB": self.storage_gb,
        }
