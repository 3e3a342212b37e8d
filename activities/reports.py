"""``publish_report``: a finished run's report, logged, counted and written as files.

The body is a plain function of a ``write`` callable (``ContainerWriter.upload`` in the app),
so what it does is readable apart from the Functions glue in ``activities/functions.py``:

1. ``telemetry.record_run``: one log record per run and per server outcome (and metrics with
   ``APPLICATIONINSIGHTS_CONNECTION_STRING``), what alerts and the Kusto queries of
   docs/operations.md read; on the first call only (``record``), so a retried write does not
   count the run twice. A failure to log never fails the publish;
2. with a container: ``{runId}/report.json``, ``servers.csv`` and ``report.html``
   (``mysqlexport.report_files``) written there with the app's identity, overwriting, so a
   retried call writes the same names again. Storage's refusal is the answer, with storage's
   own code (``AuthorizationPermissionMismatch``, ``ContainerNotFound``, ...); the orchestrator
   retries a transient one and records any other in the report's ``problems``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mysqlexport import telemetry
from mysqlexport.errors import ExportError
from mysqlexport.redaction import redact_text
from mysqlexport.report_files import render_files
from workflow.contracts import PublishAnswer, PublishRequest, problem

logger = logging.getLogger(__name__)

#: Writes one blob: (name, content, content type).
Write = Callable[[str, bytes, str], object]


def publish_report(payload: PublishRequest, write: Write | None) -> PublishAnswer:
    """Log and count the run; write its files with ``write`` (None: no container)."""
    report = payload["report"]
    try:
        if payload["record"]:
            telemetry.record_run(report)
    except Exception as err:  # noqa: BLE001 - the records are a view of the run, never its end
        logger.warning(
            "run %s: records not emitted: %s", report.get("runId"), redact_text(str(err))
        )
    if write is None:
        return {"kind": "published", "blobs": []}
    written: list[str] = []
    try:
        for rendered in render_files(report, concurrency=payload["concurrency"]):
            write(rendered.blob_name, rendered.content, rendered.content_type)
            written.append(rendered.blob_name)
    except ExportError as err:
        logger.warning(
            "run %s: report files not written (%d of 3 were): %s",
            report.get("runId"),
            len(written),
            err,
            extra={"run_id": report.get("runId"), "error_code": err.code},
        )
        return problem(err)
    logger.info(
        "run %s: report files written to %s",
        report.get("runId"),
        payload["container"],
        extra={"run_id": report.get("runId"), "blobs": written},
    )
    return {"kind": "published", "blobs": written}
