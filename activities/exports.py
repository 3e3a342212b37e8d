"""Activity triggers for fleet exports (see the package docstring)."""

from __future__ import annotations

import os

import azure.durable_functions as df

from mysqlexport import operations
from mysqlexport.arm import ArmClient
from mysqlexport.sealing import Sealer
from mysqlexport.settings import Settings

bp = df.Blueprint()


def _client() -> ArmClient:
    return ArmClient.from_settings(Settings.from_env())


def _sealer() -> Sealer:
    return Sealer.from_setting(os.environ.get("SAS_SEALING_KEY"))


@bp.activity_trigger(input_name="payload")
def resolve_servers(payload: dict) -> dict:
    """Explicit and discovered servers of a run, with Skipped rows for disallowed states."""
    with _client() as client:
        return operations.resolve_servers(payload, client)


@bp.activity_trigger(input_name="payload")
def validate_server(payload: dict) -> dict:
    """Dry run for one server: state and numberOfContainers."""
    with _client() as client:
        return operations.validate_server(payload, client)


@bp.activity_trigger(input_name="payload")
def submit_export(payload: dict) -> dict:
    """POST backupAndExport once; the only place the SAS list is opened."""
    with _client() as client:
        return operations.submit_export(payload, client, _sealer())


@bp.activity_trigger(input_name="payload")
def read_status(payload: dict) -> dict:
    """Read the operation status (Azure-AsyncOperation URL)."""
    with _client() as client:
        return operations.read_status(payload, client)


@bp.activity_trigger(input_name="payload")
def read_result(payload: dict) -> dict:
    """Read the Location URL: still running or the final result."""
    with _client() as client:
        return operations.read_result(payload, client)
