"""Report files at the end of every run, written to real storage (Azurite) with the app's
identity: ``{runId}/report.json`` (the report as the API returns it), ``servers.csv`` and
``report.html``; a container that refuses is a problem of the run, never its loss."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from devhost.azurite import Azurite
from mysqlexport.storage import ContainerWriter, app_credential
from tests.e2e.conftest import SAS, SIG, Stack, StackFactory, server_id
from tests.storage_setup import create_container
from workflow.instance_ids import retry_run_id

FILE_NAMES = ("report.json", "servers.csv", "report.html")


def storage_settings(azurite: Azurite, container: str) -> dict[str, str]:
    """The app's settings for a report container on Azurite (its CA trusted as the system's)."""
    return {"REPORT_CONTAINER_URL": container, "REQUESTS_CA_BUNDLE": str(azurite.ca_bundle)}


def body(*names: str, group: str = "ProdGroup") -> dict[str, Any]:
    return {"servers": [server_id(n, group) for n in names], "target": {"sasUriList": [SAS]}}


def read_files(container: str, run_id: str) -> dict[str, bytes]:
    """The run's files, read back with the app's own identity (as a reader with a data role)."""
    writer = ContainerWriter(container, app_credential())
    return {name: writer.read(f"{run_id}/{name}") for name in FILE_NAMES}


@pytest.fixture
def container(azurite: Azurite) -> str:
    return create_container(azurite)


def test_a_run_writes_its_three_files_and_says_where(
    make_stack: StackFactory, azurite: Azurite, container: str
) -> None:
    stack = make_stack(settings=storage_settings(azurite, container))
    report = stack.run(body("orders-db", "inventory-db", "analytics-db"))
    run_id = report["runId"]
    assert report["problems"] == []
    assert report["files"] == {
        "container": container,
        "blobs": [f"{run_id}/{name}" for name in FILE_NAMES],
    }
    progress = stack.api("GET", f"exports/{run_id}").json()  # the API's own answer says it too
    assert progress["files"] == report["files"]
    files = read_files(container, run_id)
    assert json.loads(files["report.json"]) == report  # as the API returns it
    rows = list(csv.DictReader(io.StringIO(files["servers.csv"].decode("utf-8-sig"))))
    assert {r["server"]: r["status"] for r in rows} == {
        row["id"].rsplit("/", 1)[1]: row["status"] for row in report["servers"]
    }
    page = files["report.html"].decode("utf-8")
    assert run_id in page and "<svg" in page
    writer = ContainerWriter(container, app_credential())
    assert writer.properties(f"{run_id}/report.html")["contentType"].startswith("text/html")
    assert not any(SIG in content.decode("utf-8", "replace") for content in files.values())


def test_a_container_that_is_not_there_is_a_problem_and_the_run_still_reports(
    make_stack: StackFactory, azurite: Azurite
) -> None:
    missing = azurite.container_url("no-such-container")
    stack = make_stack(settings=storage_settings(azurite, missing))
    report = stack.run(body("orders-db"))
    assert report["servers"][0]["status"] == "Succeeded"
    (problem,) = report["problems"]
    assert problem["code"] == "ReportNotWritten"
    assert problem["error"]["code"] == "ContainerNotFound" and problem["error"]["status"] == 404
    assert missing in problem["message"]
    assert report["summary"]["outcome"] == "PartiallySucceeded"


def test_a_retry_of_failed_servers_writes_its_own_files(
    make_stack: StackFactory, azurite: Azurite, container: str
) -> None:
    stack: Stack = make_stack(settings=storage_settings(azurite, container))
    first = stack.run(body("analytics-db"))
    assert first["servers"][0]["error"]["code"] == "InsufficientStorageContainers"
    two = SAS.replace("/backups?", "/backups2?")
    retry = stack.api(
        "POST",
        f"exports/{first['runId']}/retry-failed",
        json={"target": {"sasUriList": [SAS, two]}},
    )
    assert retry.status_code == 202, retry.text
    second = stack.follow(retry.headers["Location"])["output"]
    assert second["runId"] == retry_run_id(first["runId"], 1)
    assert second["files"]["blobs"][0] == f"{second['runId']}/report.json"
    assert json.loads(read_files(container, second["runId"])["report.json"]) == second
    assert json.loads(read_files(container, first["runId"])["report.json"]) == first
