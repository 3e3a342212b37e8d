"""What a finished run tells the operators: structured log records and OpenTelemetry metrics.

``record_run(report)`` takes a run report (``mysqlexport.report.build_report``) and emits

* one log record per run (``mysqlexport.run``) and one per server outcome (``mysqlexport.server``)
  on the logger ``mysqlexport.telemetry``. The facts are ``extra=`` fields with the stable names
  of ``RUN_FIELDS`` / ``SERVER_FIELDS``, and the message carries the same facts as
  ``key=value`` pairs, because the two ways Azure Functions ships Python logs to Application
  Insights keep different things:

  - by default the worker sends each record to the host over gRPC as an ``RpcLog`` holding only
    the level, the formatted message, the logger name and the invocation id
    (Azure/azure-functions-python-worker ``azure_functions_worker/dispatcher.py``,
    ``Dispatcher.on_logging``): ``extra`` fields do not reach ``customDimensions``, the
    message does;
  - with ``PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true`` the worker calls
    ``configure_azure_monitor`` itself (the worker's ``otel.py``/``dispatcher.py``,
    ``initialize_azure_monitor``) and OpenTelemetry's ``LoggingHandler`` makes every
    non-standard attribute of a record, ``extra`` included, an attribute of the log
    (opentelemetry-sdk ``_logs/_internal/__init__.py``, ``LoggingHandler._get_attributes``),
    which Azure Monitor writes to ``customDimensions``.

  So ``docs/operations.md`` queries the message with ``parse-kv``, which works either way.
* when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set, OpenTelemetry metrics through
  ``azure-monitor-opentelemetry`` (``METRICS``), exported to Application Insights
  ``customMetrics``. The meter provider is the worker's when it configured one; otherwise this
  module calls ``configure_azure_monitor`` once per process with metrics only (the host already
  ships the log records, and a second log pipeline would write each one twice).

Nothing secret goes into a record: ids, states, ARM error codes and numbers, and an error message
passed through ``redact_text``. Telemetry never fails a run: a metrics failure is logged and the
run goes on.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from mysqlexport.redaction import redact_text
from mysqlexport.report import FAILED, TIMED_OUT
from mysqlexport.times import parse

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram, MeterProvider

logger = logging.getLogger(__name__)

#: The two log events (the message's first word, and ``extra["event"]``).
RUN_EVENT: Final = "mysqlexport.run"
SERVER_EVENT: Final = "mysqlexport.server"
#: The ``extra`` fields of each event, in the order the message writes them.
RUN_FIELDS: Final = (
    "run_id",
    "operation",
    "outcome",
    "dry_run",
    "total",
    "succeeded",
    "failed",
    "skipped",
    "canceled",
    "timed_out",
    "bytes",
    "duration_seconds",
    "problems",
)
SERVER_FIELDS: Final = (
    "run_id",
    "server_id",
    "operation",
    "status",
    "error_code",
    "bytes",
    "duration_seconds",
    "attempts",
    "dry_run",
)
#: The metrics (OpenTelemetry instrument names = Application Insights ``customMetrics.name``).
RUNS_METRIC: Final = "mysqlexport.runs"
SERVERS_METRIC: Final = "mysqlexport.servers"
SERVER_DURATION_METRIC: Final = "mysqlexport.server.duration"
SERVER_BYTES_METRIC: Final = "mysqlexport.server.bytes"
METRICS: Final = (RUNS_METRIC, SERVERS_METRIC, SERVER_DURATION_METRIC, SERVER_BYTES_METRIC)
METER_NAME: Final = "mysqlexport"

CONNECTION_STRING_SETTING: Final = "APPLICATIONINSIGHTS_CONNECTION_STRING"
#: The OpenTelemetry instrumentations the distro would install (requests, urllib, ...): off,
#: since this module configures metrics only.
_INSTRUMENTATIONS: Final = (
    "azure_sdk",
    "django",
    "fastapi",
    "flask",
    "httpx",
    "psycopg2",
    "requests",
    "urllib",
    "urllib3",
)
#: Servers whose outcome is a warning (what the alert in docs/operations.md fires on).
_WARN: Final = frozenset({FAILED, TIMED_OUT})
_MESSAGE_LIMIT: Final = 500
_FLUSH_MILLIS: Final = 10_000


def record_run(report: Mapping[str, Any], *, meter_provider: MeterProvider | None = None) -> None:
    """Log the run and each server's outcome, and count them in the metrics.

    ``meter_provider``: where the metrics go; by default the process's own, configured for
    Azure Monitor when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set (else no metrics).
    """
    run = run_fields(report)
    logger.info("%s", _message(RUN_EVENT, run), extra={"event": RUN_EVENT, **run})
    servers: list[dict[str, Any]] = []
    for row in report.get("servers") or ():
        fields = server_fields(report, row)
        servers.append(fields)
        level = logging.WARNING if fields["status"] in _WARN else logging.INFO
        message = _message(SERVER_EVENT, fields)
        error = str((row.get("error") or {}).get("message") or "")
        if error:
            # Last, quoted and cut short, so the pairs before it stay easy to read.
            message += f" error_message={json.dumps(redact_text(error)[:_MESSAGE_LIMIT])}"
        logger.log(level, "%s", message, extra={"event": SERVER_EVENT, **fields})
    provider = meter_provider if meter_provider is not None else _azure_monitor_provider()
    if provider is None:
        return
    try:
        _count(provider, run, servers)
        flush = getattr(provider, "force_flush", None)
        if meter_provider is None and callable(flush):
            # A Flex instance may be reclaimed before the next periodic export (60 s).
            flush(timeout_millis=_FLUSH_MILLIS)
    except Exception as err:  # noqa: BLE001 - telemetry must never fail the run it reports
        logger.warning("run %s: metrics not recorded: %s", run["run_id"], redact_text(str(err)))


def run_fields(report: Mapping[str, Any]) -> dict[str, Any]:
    """The run record's facts, by ``RUN_FIELDS`` name."""
    summary: Mapping[str, Any] = report.get("summary") or {}
    return {
        "run_id": str(report.get("runId") or ""),
        "operation": str(summary.get("operation") or "export"),
        "outcome": str(summary.get("outcome") or ""),
        "dry_run": bool(report.get("dryRun")),
        "total": int(summary.get("total") or 0),
        "succeeded": int(summary.get("succeeded") or 0),
        "failed": int(summary.get("failed") or 0),
        "skipped": int(summary.get("skipped") or 0),
        "canceled": int(summary.get("canceled") or 0),
        "timed_out": int(summary.get("timedOut") or 0),
        "bytes": int(summary.get("bytes") or 0),
        "duration_seconds": _seconds(report.get("startTime"), report.get("endTime")),
        "problems": len(report.get("problems") or ()),
    }


def server_fields(report: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    """One server record's facts, by ``SERVER_FIELDS`` name. ``bytes``: the bytes the export
    moved (``dataTransferredInBytes``); ``duration_seconds``: ARM's start to end of the
    operation; both None when ARM did not say."""
    summary: Mapping[str, Any] = report.get("summary") or {}
    error: Mapping[str, Any] = row.get("error") or {}
    transferred = row.get("dataTransferredInBytes")
    return {
        "run_id": str(report.get("runId") or ""),
        "server_id": str(row.get("id") or ""),
        "operation": str(summary.get("operation") or "export"),
        "status": str(row.get("status") or ""),
        "error_code": str(error["code"]) if error.get("code") else None,
        "bytes": int(transferred) if isinstance(transferred, int | float) else None,
        "duration_seconds": _seconds(row.get("startTime"), row.get("endTime")),
        "attempts": int(row.get("attempts") or 0),
        "dry_run": bool(report.get("dryRun")),
    }


def _message(event: str, fields: Mapping[str, Any]) -> str:
    """``event key=value ...``: no value holds a blank (ids, states, codes, numbers); an unknown
    value is ``-``. Kusto reads it with ``parse-kv`` (docs/operations.md)."""
    pairs = " ".join(f"{key}={_text(value)}" for key, value in fields.items())
    return f"{event} {pairs}"


def _text(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value).replace(" ", "_")


def _seconds(start: Any, end: Any) -> float | None:
    if not isinstance(start, str) or not isinstance(end, str):
        return None
    try:
        seconds = (parse(end) - parse(start)).total_seconds()
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


# --- metrics ------------------------------------------------------------------------------------


class _Instruments:
    """The four instruments of one meter provider."""

    def __init__(self, provider: MeterProvider) -> None:
        meter = provider.get_meter(METER_NAME)
        self.runs: Counter = meter.create_counter(
            RUNS_METRIC, unit="{run}", description="Finished runs, by outcome and operation"
        )
        self.servers: Counter = meter.create_counter(
            SERVERS_METRIC,
            unit="{server}",
            description="Server outcomes, by status, ARM error code and operation",
        )
        self.duration: Histogram = meter.create_histogram(
            SERVER_DURATION_METRIC,
            unit="s",
            description="A server's export or backup, from ARM's start to its end",
        )
        self.bytes: Histogram = meter.create_histogram(
            SERVER_BYTES_METRIC, unit="By", description="Bytes an export moved, per server"
        )


_instruments: dict[int, _Instruments] = {}
_lock = threading.Lock()
_configured: list[MeterProvider | None] = []


def _count(provider: MeterProvider, run: Mapping[str, Any], servers: list[dict[str, Any]]) -> None:
    with _lock:
        instruments = _instruments.get(id(provider))
        if instruments is None:
            instruments = _instruments[id(provider)] = _Instruments(provider)
    instruments.runs.add(
        1,
        {"outcome": run["outcome"], "operation": run["operation"], "dry_run": run["dry_run"]},
    )
    for fields in servers:
        attributes = {
            "status": fields["status"],
            "error_code": fields["error_code"] or "",
            "operation": fields["operation"],
            "dry_run": fields["dry_run"],
        }
        instruments.servers.add(1, attributes)
        timing = {key: attributes[key] for key in ("status", "operation")}
        if fields["duration_seconds"] is not None:
            instruments.duration.record(fields["duration_seconds"], timing)
        if fields["bytes"] is not None:
            instruments.bytes.record(fields["bytes"], timing)


def _azure_monitor_provider() -> MeterProvider | None:
    """The process's meter provider, exporting to Azure Monitor, or None without a connection
    string. Decided once per process (under a lock):

    * the worker already configured the Azure Monitor distro
      (``PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true``), or anything else set an SDK
      ``MeterProvider``: that one is used, never a second;
    * else ``configure_azure_monitor`` with metrics only, as the worker would call it: the
      connection string from the setting, the ``azure_functions`` resource detector unless
      one is set, Entra authentication from ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING``
      (azure-monitor-opentelemetry-exporter ``export/_base.py``,
      ``_get_authentication_credential``), no live metrics, performance counters or
      instrumentations: the app's four metrics and nothing else.
    """
    if not os.environ.get(CONNECTION_STRING_SETTING):
        return None
    with _lock:
        if _configured:
            return _configured[0]
        try:
            _configured.append(_configure_azure_monitor())
        except Exception as err:  # noqa: BLE001 - no telemetry is better than no run
            logger.warning("Azure Monitor metrics not configured: %s", redact_text(str(err)))
            _configured.append(None)
        return _configured[0]


def _configure_azure_monitor() -> MeterProvider:
    from opentelemetry import metrics  # noqa: PLC0415 - only with a connection string
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider  # noqa: PLC0415

    current = metrics.get_meter_provider()
    if isinstance(current, SdkMeterProvider):
        return current
    from azure.monitor.opentelemetry import configure_azure_monitor  # noqa: PLC0415

    # As the Python worker does before it configures the distro (its initialize_azure_monitor).
    os.environ.setdefault("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS", "azure_functions")
    # Metrics only. The distro decides logs and traces from these variables alone: its
    # _get_configurations overwrites the disable_logging / disable_tracing arguments with what
    # OTEL_LOGS_EXPORTER / OTEL_TRACES_EXPORTER say (azure-monitor-opentelemetry 1.8.11,
    # _utils/configurations.py, _default_disable_logging and _default_disable_tracing).
    os.environ.setdefault("OTEL_LOGS_EXPORTER", "none")
    os.environ.setdefault("OTEL_TRACES_EXPORTER", "none")
    configure_azure_monitor(
        connection_string=os.environ[CONNECTION_STRING_SETTING],
        enable_live_metrics=False,
        enable_performance_counters=False,
        instrumentation_options={name: {"enabled": False} for name in _INSTRUMENTATIONS},
    )
    return metrics.get_meter_provider()
