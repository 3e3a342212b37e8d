"""mysqlexport.telemetry: the records and metrics a finished run leaves for the operators.

Log records through real logging (pytest's caplog); metrics through OpenTelemetry's own
in-memory reader; and the Azure Monitor path end to end in a child process whose connection
string points at a capture server on 127.0.0.1 that the child starts (real HTTP, the real
exporter), inside a network namespace of its own where ``unshare`` allows it, so nothing can
leave the machine.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from mysqlexport import telemetry
from mysqlexport.report import build_report, server_row
from tests.waits import HANG_SECONDS

ROOT = Path(__file__).resolve().parents[2]
SUB = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"
DB = f"{SUB}/providers/Microsoft.DBforMySQL/flexibleServers"
SAS = "https://acct.blob.core.windows.net/c?sv=2024-01-01&sp=cw&sig=SECRETSIGNATURE"


def sample_report(run_id: str = "sched-0123456789abcdef0123") -> dict[str, Any]:
    rows = [
        server_row(
            f"{DB}/billing-db",
            "Succeeded",
            start_time="2026-11-27T03:00:00Z",
            end_time="2026-11-27T03:20:00Z",
            data_transferred=1_000_000,
            attempts=1,
        ),
        server_row(
            f"{DB}/orders-db",
            "Failed",
            attempts=1,
            error={
                "code": "AuthorizationFailed",
                "message": f"The client may not write to {SAS}",
                "status": 403,
            },
        ),
        server_row(
            f"{DB}/slow-db",
            "TimedOut",
            start_time="2026-11-27T03:00:00Z",
            end_time="2026-11-27T15:00:00Z",
            attempts=2,
        ),
        server_row(f"{DB}/stopped-db", "Skipped"),
    ]
    return build_report(
        run_id,
        "2026-11-27T03:00:00Z",
        "2026-11-27T15:00:05Z",
        rows,
        request={"operation": "export"},
    )


# --- log records -------------------------------------------------------------------------------


def test_one_record_per_run_and_per_server_with_the_stable_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="mysqlexport.telemetry"):
        telemetry.record_run(sample_report(), meter_provider=MeterProvider())
    records = [r for r in caplog.records if r.name == "mysqlexport.telemetry"]
    runs = [r for r in records if getattr(r, "event", None) == telemetry.RUN_EVENT]
    servers = [r for r in records if getattr(r, "event", None) == telemetry.SERVER_EVENT]
    assert len(runs) == 1 and len(servers) == 4
    run = runs[0]
    assert {f: getattr(run, f) for f in telemetry.RUN_FIELDS} == {
        "run_id": "sched-0123456789abcdef0123",
        "operation": "export",
        "outcome": "PartiallySucceeded",
        "dry_run": False,
        "total": 4,
        "succeeded": 1,
        "failed": 1,
        "skipped": 1,
        "canceled": 0,
        "timed_out": 1,
        "bytes": 1_000_000,
        "duration_seconds": 43205.0,
        "problems": 0,
    }
    by_server = {r.server_id.rsplit("/", 1)[1]: r for r in servers}  # type: ignore[attr-defined]
    billing = by_server["billing-db"]
    assert {f: getattr(billing, f) for f in telemetry.SERVER_FIELDS} == {
        "run_id": "sched-0123456789abcdef0123",
        "server_id": f"{DB}/billing-db",
        "operation": "export",
        "status": "Succeeded",
        "error_code": None,
        "bytes": 1_000_000,
        "duration_seconds": 1200.0,
        "attempts": 1,
        "dry_run": False,
    }
    assert by_server["orders-db"].error_code == "AuthorizationFailed"  # type: ignore[attr-defined]
    assert by_server["orders-db"].duration_seconds is None  # type: ignore[attr-defined]
    assert by_server["slow-db"].duration_seconds == 43200.0  # type: ignore[attr-defined]
    # Failed and TimedOut servers are warnings, the rest information.
    assert {name: r.levelno for name, r in by_server.items()} == {
        "billing-db": logging.INFO,
        "orders-db": logging.WARNING,
        "slow-db": logging.WARNING,
        "stopped-db": logging.INFO,
    }


def test_the_message_carries_the_same_facts_as_key_value_pairs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What the Functions host ships to Application Insights by default is the message alone:
    it must hold every fact, as pairs Kusto's parse-kv reads (docs/operations.md)."""
    with caplog.at_level(logging.INFO, logger="mysqlexport.telemetry"):
        telemetry.record_run(sample_report(), meter_provider=MeterProvider())
    messages = [r.getMessage() for r in caplog.records if r.name == "mysqlexport.telemetry"]
    run = messages[0]
    assert run.startswith("mysqlexport.run run_id=sched-0123456789abcdef0123 operation=export ")
    assert " outcome=PartiallySucceeded " in run and " timed_out=1 " in run
    orders = next(m for m in messages if "/orders-db " in m)
    pairs = dict(p.split("=", 1) for p in orders.split(" error_message=")[0].split()[1:])
    assert pairs == {
        "run_id": "sched-0123456789abcdef0123",
        "server_id": f"{DB}/orders-db",
        "operation": "export",
        "status": "Failed",
        "error_code": "AuthorizationFailed",
        "bytes": "-",
        "duration_seconds": "-",
        "attempts": "1",
        "dry_run": "false",
    }


def test_no_record_holds_a_signature(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="mysqlexport.telemetry"):
        telemetry.record_run(sample_report(), meter_provider=MeterProvider())
    orders = next(r for r in caplog.records if "/orders-db " in r.getMessage())
    assert "error_message=" in orders.getMessage()
    for record in caplog.records:
        text = record.getMessage() + json.dumps(vars(record), default=str)
        assert "SECRETSIGNATURE" not in text
    assert "sig=REDACTED" in orders.getMessage()


def test_a_report_without_servers_or_times_is_still_recorded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    report = build_report("exp-00000000000000000000", "", "", [], problems=[{"code": "X"}])
    with caplog.at_level(logging.INFO, logger="mysqlexport.telemetry"):
        telemetry.record_run(report, meter_provider=MeterProvider())
    (record,) = [r for r in caplog.records if r.name == "mysqlexport.telemetry"]
    assert record.outcome == "Failed" and record.problems == 1  # type: ignore[attr-defined]
    assert record.duration_seconds is None  # type: ignore[attr-defined]


# --- metrics, in memory -------------------------------------------------------------------------


def collected(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    return {
        metric.name: list(metric.data.data_points)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }


def test_the_metrics_count_runs_and_servers_and_measure_durations_and_bytes() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    telemetry.record_run(sample_report(), meter_provider=provider)
    telemetry.record_run(sample_report("exp-00000000000000000001"), meter_provider=provider)
    metrics = collected(reader)
    assert set(metrics) == set(telemetry.METRICS)
    (runs,) = metrics[telemetry.RUNS_METRIC]
    assert dict(runs.attributes) == {
        "outcome": "PartiallySucceeded",
        "operation": "export",
        "dry_run": False,
    }
    assert runs.value == 2
    servers = {
        (p.attributes["status"], p.attributes["error_code"]): p.value
        for p in metrics[telemetry.SERVERS_METRIC]
    }
    assert servers == {
        ("Succeeded", ""): 2,
        ("Failed", "AuthorizationFailed"): 2,
        ("TimedOut", ""): 2,
        ("Skipped", ""): 2,
    }
    durations = {p.attributes["status"]: p for p in metrics[telemetry.SERVER_DURATION_METRIC]}
    assert set(durations) == {"Succeeded", "TimedOut"}
    assert durations["Succeeded"].count == 2 and durations["Succeeded"].sum == 2400.0
    (moved,) = metrics[telemetry.SERVER_BYTES_METRIC]
    assert moved.count == 2 and moved.sum == 2_000_000


def test_without_a_connection_string_there_is_no_exporter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(telemetry.CONNECTION_STRING_SETTING, raising=False)
    assert telemetry._azure_monitor_provider() is None


# --- Azure Monitor, over real HTTP to a capture server on loopback -------------------------------

CHILD = """
import gzip, json, os, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

received = []

class Capture(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        items = json.loads(body)
        received.append({"path": self.path, "items": items})
        answer = json.dumps({"itemsReceived": len(items), "itemsAccepted": len(items),
                             "errors": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
threading.Thread(target=server.serve_forever, daemon=True).start()
os.environ["APPLICATIONINSIGHTS_CONNECTION_STRING"] = (
    "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
    f"IngestionEndpoint=http://127.0.0.1:{server.server_port}/"
)
sys.path.insert(0, os.getcwd())
from tests.unit.test_telemetry import sample_report
from mysqlexport import telemetry

telemetry.record_run(sample_report())
first = telemetry._azure_monitor_provider()
telemetry.record_run(sample_report("exp-00000000000000000001"))
server.shutdown()
names = sorted({
    metric["name"]
    for request in received
    for item in request["items"]
    if item["data"]["baseType"] == "MetricData"
    for metric in item["data"]["baseData"]["metrics"]
})
print(json.dumps({
    "paths": sorted({r["path"] for r in received}),
    "names": names,
    "same_provider": first is telemetry._azure_monitor_provider(),
    "provider": type(first).__module__ + "." + type(first).__name__,
    "detectors": os.environ.get("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS"),
    "types": sorted({i["data"]["baseType"] for r in received for i in r["items"]}),
    "handlers": [type(h).__module__ for h in __import__("logging").getLogger().handlers],
}))
"""


def test_with_a_connection_string_the_metrics_reach_application_insights_ingestion() -> None:
    """configure_azure_monitor once, metrics only, and the exporter POSTs the four metrics to
    the connection string's IngestionEndpoint (/v2.1/track), nothing else."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("APPLICATIONINSIGHTS_", "OTEL_"))
    }
    # The SDK's own telemetry (statsbeat) and its settings service would go to Microsoft's
    # endpoints: off, and the namespace below cuts the rest.
    environment["APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL"] = "true"
    environment["APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED"] = "true"
    environment["APPLICATIONINSIGHTS_SDKSTATS_DISABLED"] = "true"
    command = [sys.executable, "-c", CHILD]
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if unshare and ip and subprocess.run([unshare, "-rn", "true"], check=False).returncode == 0:
        # A new network namespace has only a loopback interface, down until brought up.
        command = [unshare, "-rn", "sh", "-c", f'{ip} link set lo up && exec "$@"', "sh", *command]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["paths"] == ["/v2.1/track"]
    assert result["names"] == sorted(telemetry.METRICS)
    assert result["same_provider"] is True
    assert result["provider"] == "opentelemetry.sdk.metrics._internal.MeterProvider"
    assert result["detectors"] == "azure_functions"
    # Metrics only: no log pipeline beside the host's (no handler on the root logger, no log or
    # trace item sent), so no record is written twice.
    assert result["types"] == ["MetricData"]
    assert not [h for h in result["handlers"] if h.startswith("opentelemetry")]
