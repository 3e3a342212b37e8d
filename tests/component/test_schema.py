"""What the client sends and what the emulator answers both fit the API's schema.

The schema (tests/schemas) is transcribed from the service's OpenAPI definition; every request
the client makes and every answer it gets in a full scenario is checked against it.
"""

from __future__ import annotations

import contextlib
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from azure.identity import ManagedIdentityCredential

from armemulator import Emulator, EmulatorConfig, VirtualClock
from mysqlexport.arm import ArmClient
from mysqlexport.errors import ArmError
from mysqlexport.ids import ServerId
from mysqlexport.models import AcceptedOperation
from mysqlexport.settings import Settings
from tests.component.conftest import SAS, SUB, server_id

SCHEMA = json.loads(
    (Path(__file__).parents[1] / "schemas" / "mysql_backup_and_export.schema.json").read_text()
)


jsonschema.Draft202012Validator.check_schema(SCHEMA)


@functools.cache
def validator(definition: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        {"$ref": f"#/$defs/{definition}", "$defs": SCHEMA["$defs"]},
        format_checker=jsonschema.FormatChecker(),
    )


def validate(instance: Any, definition: str) -> None:
    validator(definition).validate(instance)


@dataclass
class Exchange:
    method: str
    url: str
    request_body: bytes | None
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """Keeps each request/response pair the client's real session saw (a requests hook)."""

    exchanges: list[Exchange] = field(default_factory=list)

    def hook(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        body = response.request.body
        self.exchanges.append(
            Exchange(
                response.request.method or "",
                response.request.url or "",
                body.encode() if isinstance(body, str) else body,
                response.status_code,
                dict(response.headers),
                response.content,
            )
        )


def kind_of(ex: Exchange) -> str:
    path = ex.url.split("?")[0]
    if path.endswith("/backupAndExport"):
        return "submit"
    if path.endswith("/validateBackup"):
        return "validate"
    if "/azureAsyncOperation/" in path:
        return "status"
    if "/operationStatus/" in path:
        return "result"
    if path.endswith("/flexibleServers"):
        return "list"
    return "get"


def test_every_request_and_answer_in_a_full_scenario_fits_the_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = VirtualClock(start=1_800_000_000)
    recorder = Recorder()
    session = requests.Session()
    session.hooks["response"].append(recorder.hook)
    with Emulator(EmulatorConfig(clock=clock, page_size=2, seed=3)) as emu:
        monkeypatch.setenv("IDENTITY_ENDPOINT", emu.token_endpoint)
        monkeypatch.setenv("IDENTITY_HEADER", emu.identity_header)
        settings = Settings.from_env({"ARM_ENDPOINT": emu.url})
        arm = ArmClient(settings, ManagedIdentityCredential(), session=session)
        servers = list(arm.list_servers(SUB))
        ready = [s for s in servers if s.state == "Ready"]
        operations = []
        for info in ready:
            try:
                arm.get_server(info.id)
                arm.validate_backup(info.id)
                op = arm.submit_export(info.id, f"{info.id.name}-b", SAS * 2)
            except ArmError:
                continue  # forbidden servers: their 403 bodies are checked below
            assert isinstance(op, AcceptedOperation)
            operations.append(op)
            with contextlib.suppress(ArmError):  # a second export while one runs: 409
                arm.submit_export(info.id, f"{info.id.name}-c", SAS)
        for _ in range(100):
            clock.advance(30)
            for op in operations:
                arm.get_status(op.status_url)
                with contextlib.suppress(ArmError):
                    arm.get_result(op.location_url or "")
        for bad in (server_id("missing"), server_id("mysqltestserver")):
            with contextlib.suppress(ArmError):
                arm.submit_export(ServerId.parse(bad), "again-now", SAS)

    kinds_seen: set[str] = set()
    for ex in recorder.exchanges:
        kind = kind_of(ex)
        kinds_seen.add(f"{kind}:{ex.status}")
        body = json.loads(ex.body) if ex.body else None
        if kind == "submit":
            assert ex.request_body is not None
            validate(json.loads(ex.request_body), "BackupAndExportRequest")
        if ex.status >= 400:
            validate(body, "ErrorResponse")
            continue
        if kind == "submit" and ex.status == 202:
            assert body is None
            assert ex.headers["Location"].startswith(emu.url)
            assert ex.headers["Azure-AsyncOperation"].startswith(emu.url)
        elif kind == "submit":
            validate(body, "BackupAndExportResponse")
        elif kind == "validate":
            validate(body, "ValidateBackupResponse")
        elif kind == "status":
            validate(body, "AsyncOperationResource")
            validate(body, "BackupAndExportResponse")  # same status enum
        elif kind == "result" and ex.status == 202:
            assert body is None and "Location" in ex.headers
        elif kind == "result":
            validate(body, "BackupAndExportResponse")
        elif kind == "list":
            validate(body, "ServerListResult")
        else:
            validate(body, "Server")
        assert "x-ms-request-id" in {k.lower() for k in ex.headers}
    assert {
        "submit:202",
        "submit:404",
        "submit:409",
        "validate:200",
        "status:200",
        "result:202",
        "result:200",
        "list:200",
        "get:200",
    } <= kinds_seen
    assert any(k.endswith(":403") for k in kinds_seen)


def test_schema_rejects_what_the_api_forbids() -> None:
    """The schema is not vacuous: the API's own bad cases fail it."""
    good = {
        "backupSettings": {"backupName": "customer-backup-name"},
        "targetDetails": {"objectType": "FullBackupStoreDetails", "sasUriList": ["sasuri1"]},
    }
    validate(good, "BackupAndExportRequest")
    for bad in (
        {"backupSettings": {"backupName": "Bad_Name"}, "targetDetails": good["targetDetails"]},
        {"backupSettings": good["backupSettings"]},
        {**good, "targetDetails": {"objectType": "Other", "sasUriList": []}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate(bad, "BackupAndExportRequest")
    with pytest.raises(jsonschema.ValidationError):
        validate({"status": "Failed"}, "AsyncOperationResource")
