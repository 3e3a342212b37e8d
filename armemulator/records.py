"""What every accepted operation of the emulator's ground truth names: which one, and where."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from armemulator.fleet import ServerSpec, short_location


@dataclass(frozen=True)
class OperationRecord:
    """The identity of one accepted operation (an export, an on-demand backup) and its server;
    ``ExportRecord`` and ``BackupRecord`` add what each operation is."""

    #: Position among the operations of its kind the model knows (global, increasing).
    sequence: int
    operation_id: str
    subscription: str
    resource_group: str
    server_name: str
    server_id: str
    #: Short location name, as in the polling URLs.
    location: str


def identity(spec: ServerSpec, sequence: int, operation_id: str) -> dict[str, Any]:
    """``OperationRecord``'s fields for an operation on ``spec``: spread them into the record."""
    return {
        "sequence": sequence,
        "operation_id": operation_id,
        "subscription": spec.subscription,
        "resource_group": spec.resource_group,
        "server_name": spec.name,
        "server_id": spec.resource_id,
        "location": short_location(spec.location),
    }
