"""The end of a run: its report published by ``publish_report``.

The activity logs and counts the outcome of the run and of every server (the records alerts and
Kusto queries read) and, when the run has a report container (``REPORT_CONTAINER_URL`` when it
started), writes ``{runId}/report.json``, ``servers.csv`` and ``report.html`` there. A write
that fails transiently (storage's 5xx, a throttle, a crashed activity) is tried again on durable
timers, as ARM calls are; one that still fails is a problem of the run, in its report's
``problems``: the run and its report are never lost for want of a file.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Final

import azure.durable_functions as df

from mysqlexport.report_files import FILES
from mysqlexport.rules import RetryPolicy, backoff
from orchestrators.timeutil import after
from orchestrators.window import gather
from workflow import names
from workflow.contracts import ErrorJson, PublishAnswer, PublishRequest, crashed

#: How many times ``publish_report`` is called for one run, at most.
PUBLISH_ATTEMPTS: Final = 4
#: The problem a run's report carries when its files could not be written.
REPORT_NOT_WRITTEN: Final = "ReportNotWritten"


def report_files(run_id: str, container: str | None) -> dict[str, Any] | None:
    """Where ``run_id``'s report files go (``report["files"]``), or None without a container."""
    if not container:
        return None
    return {"container": container, "blobs": [f.blob_name(run_id) for f in FILES]}


def publish(
    context: df.DurableOrchestrationContext,
    report: dict[str, Any],
    container: str | None,
    concurrency: int,
    policy: RetryPolicy,
) -> Generator[Any, Any, list[dict[str, Any]]]:
    """Publish ``report``; the problems to add to it (none when it was published)."""
    error: ErrorJson = {}
    for attempt in range(1, PUBLISH_ATTEMPTS + 1):
        request: PublishRequest = {
            "report": report,
            "container": container,
            "concurrency": concurrency,
            "record": attempt == 1,  # counted once, whatever the retries
        }
        task = context.call_activity(names.PUBLISH_REPORT, request)
        [(ok, value)] = yield from gather(context, [task])
        answer: PublishAnswer = value if ok else crashed(value)
        if answer["kind"] == "published":
            return []
        error = answer["error"]
        if attempt == PUBLISH_ATTEMPTS or not error.get("transient"):
            break
        wait = backoff(attempt, policy)
        yield context.create_timer(after(context.current_utc_datetime, wait))
    return [
        run_problem(REPORT_NOT_WRITTEN, f"the report files were not written to {container}", error)
    ]


def run_problem(code: str, what: str, error: ErrorJson) -> dict[str, Any]:
    """A problem of the whole run (``report.problems``): ``code``, what went wrong, and the
    service's own error that says why (``error``, kept whole)."""
    return {
        "code": code,
        "message": f"{what}: {error.get('code', 'Unknown')}: {error.get('message', '')}",
        "error": dict(error),
    }
