"""What every accepted operation of the emulator's ground truth names: which one, and where."""

from __future__ import annotations

from dataclasses import dataclass


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
