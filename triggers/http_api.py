"""The HTTP API: start a run, list runs, follow one, cancel it, retry its failures; health.

``POST /api/exports`` answers 202 with the Durable Functions check-status body and a ``Location``
equal to ``statusQueryGetUri`` — the async pattern Logic Apps' HTTP action follows (202 while
running, 200 with the run report as ``output`` when done). Bad input is a 400 naming every bad
field, and nothing starts. Every time in the app's own answers is ISO 8601 in UTC with a ``Z``
(``triggers.responses.utc_time``). Every route takes a function key: ``/api/health`` too, which
reports on the settings and spends a token request and an ARM call per request (Azure Monitor's
standard availability tests send the key as an ``x-functions-key`` header).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import azure.durable_functions as df
import azure.functions as func
import requests
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from mysqlexport import report
from mysqlexport.armspec import BACKUP
from mysqlexport.errors import InvalidRequest, RequestTooLarge, SettingsError
from mysqlexport.request import MAX_BODY_BYTES, Target, parse_request
from mysqlexport.sealing import Sealer, UnsealError
from mysqlexport.settings import Settings
from triggers.health import health_body, run_checks
from triggers.instances import QueryFailed, query_instances
from triggers.listing import NEXT_PAGE_PARAMETER, describe_runs, find_runs, parse_run_query
from triggers.responses import error_response, json_response, row_times_in_utc, utc_time
from triggers.retries import MAX_RETRIES, parse_retry, retry_slot
from triggers.runs import RUNNING, kept_target, read_target, run_target, start_run
from workflow.contracts import FleetJob, TargetInput, fleet_job, retry_job
from workflow.instance_ids import is_run_id, new_run_id, server_prefix, shard_instance_id
from workflow.names import CANCEL_EVENT

logger = logging.getLogger(__name__)
bp = df.Blueprint()


def _read_body(req: func.HttpRequest) -> Any:
    body = req.get_body() or b""
    if len(body) > MAX_BODY_BYTES:
        raise RequestTooLarge(MAX_BODY_BYTES)
    try:
        return json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError) as err:
        raise InvalidRequest({"body": f"is not valid JSON ({type(err).__name__})"}) from err
    except RecursionError as err:  # the decoder recurses once per level of nesting
        raise InvalidRequest({"body": "is nested too deeply to be an export request"}) from err


def _status_name(status: Any) -> str | None:
    runtime = getattr(status, "runtime_status", None)
    return runtime.name if runtime is not None else None


def _run_not_found(run_id: str) -> func.HttpResponse:
    """404 ``RunNotFound`` naming the ID (shortened: it comes from the URL, of any length)."""
    shown = run_id if len(run_id) <= 64 else f"{run_id[:64]}..."
    return error_response(404, "RunNotFound", f"no export run {shown!r}")


async def _find_run(
    client: df.DurableOrchestrationClient, req: func.HttpRequest, show_input: bool = False
) -> tuple[str, Any, func.HttpResponse | None]:
    """The run named in the route, or a 404 answer.

    An ID that is not of the shape the app gives runs (``is_run_id``) is refused before the
    durable client sees it: ``get_status`` puts the ID into the host's management URL unescaped
    (azure-functions-durable ``RpcManagementOptions.to_url``), so ``?``, ``#`` or ``/`` in it
    address another resource. ``GET instances/?...`` answers every instance's status as a list
    (the extension's ``HttpApiHandler.cs``, ``instanceId == null``) and the SDK fails with a
    TypeError on it: a 500, on devhost and on the real host alike.
    """
    run_id = req.route_params.get("runId", "")
    if not is_run_id(run_id):
        return run_id, None, _run_not_found(run_id)
    status = await client.get_status(run_id, show_input=show_input)
    if _status_name(status) is None:
        return run_id, status, _run_not_found(run_id)
    return run_id, status, None


#: A route's work once its run is found: ``(request, client, run id, the run's status)``.
RunHandler = Callable[
    [func.HttpRequest, df.DurableOrchestrationClient, str, Any], Awaitable[func.HttpResponse]
]


def _on_run(
    route: str, method: str, *, show_input: bool = False
) -> Callable[[RunHandler], RunHandler]:
    """Register the decorated handler as the HTTP function of ``method route``, a route naming
    one run: the function finds the run first (``_find_run``) and answers 404 for an unknown
    one, so the handler starts from a run that exists. The function keeps the handler's name
    (the host's function name) and docstring."""

    def register(handler: RunHandler) -> RunHandler:
        async def function(
            req: func.HttpRequest, client: df.DurableOrchestrationClient
        ) -> func.HttpResponse:
            run_id, status, missing = await _find_run(client, req, show_input)
            if missing is not None:
                return missing
            return await handler(req, client, run_id, status)

        function.__name__ = function.__qualname__ = handler.__name__
        function.__doc__ = handler.__doc__
        with_client = bp.durable_client_input(client_name="client")(function)
        bp.route(route=route, methods=[method], auth_level=func.AuthLevel.FUNCTION)(with_client)
        return handler

    return register


@bp.route(route="exports", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def start_export(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Validate the request, keep its target (a SAS list sealed), start ``export_fleet``;
    202 + Location."""
    try:
        request = parse_request(_read_body(req))
    except InvalidRequest as err:
        return _invalid(err)
    try:
        settings, target = Settings.from_env(), run_target(request)
    except SettingsError as err:
        logger.error("cannot start a run: %s", err)
        return error_response(500, err.code, err.message)
    run_id = new_run_id()
    await start_run(client, run_id, fleet_job(run_id, request, settings), target)
    logger.info("started %s run %s", request.operation, run_id, extra={"run_id": run_id})
    return client.create_check_status_response(req, run_id)


def _invalid(err: InvalidRequest) -> func.HttpResponse:
    """400 naming every bad field (413 for a body over the limit)."""
    return json_response({"error": err.to_dict()}, 413 if isinstance(err, RequestTooLarge) else 400)


@bp.route(route="exports", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def list_exports(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """The app's runs, newest first, a page at a time (``triggers.listing``)."""
    try:
        query = parse_run_query(req.params)
    except InvalidRequest as err:
        return _invalid(err)
    try:
        rows, following = await find_runs(client, query, datetime.now(UTC))
        runs = await describe_runs(client, rows)
    except (QueryFailed, requests.RequestException) as err:
        logger.warning("the list of runs is unavailable: %s", err)
        return error_response(503, "TaskHubUnavailable", "the task hub did not answer; try again")
    token = None if following is None else following.encode()
    return json_response(
        {
            "value": runs,
            "continuationToken": token,
            "nextLink": None if token is None else _next_link(req.url, token),
        }
    )


def _next_link(url: str, token: str) -> str:
    """``url`` with ``continuationToken`` set to ``token`` (the other parameters kept, the
    function key among them when it came as ``code``, as the host's own status URLs carry it)."""
    parts = urlsplit(url)
    name = NEXT_PAGE_PARAMETER
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    query.append((name, token))
    return urlunsplit(parts._replace(query=urlencode(query)))


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def health(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Whether the settings, the sealing key, the identity, ARM and the task hub serve
    (``triggers.health``): 200, or 503 naming each failed check."""
    body, status = health_body(await run_checks(client))
    return json_response(body, status)


async def _total_before_resolved(client: df.DurableOrchestrationClient, run_id: str) -> int | None:
    """A run's server count before its fleet has resolved the servers: a run that names its
    servers and discovers none has exactly those (the request is de-duplicated when it is
    validated); with discovery the count is not known until the listing ends (None)."""
    status = await client.get_status(run_id, show_input=True)
    job = getattr(status, "input_", None)
    if isinstance(job, str):
        job = json.loads(job)
    request = job.get("request") if isinstance(job, Mapping) else None
    if not isinstance(request, Mapping) or request.get("discover"):
        return None
    servers = request.get("servers")
    return len(servers) if isinstance(servers, list) else None


async def _progress(
    client: df.DurableOrchestrationClient, run_id: str, status: Any
) -> dict[str, Any]:
    """The run's report when it is done; else counts over every server and the running rows.

    Counts come from the fleet (servers settled before the fan-out) and from each shard, read
    by its known id; the running servers' rows from an instance query read to its last page.
    ``total`` is known from the first answer for a run that names its servers; with discovery it
    is null (``phase`` ``resolving``) until the fleet has listed them.
    """
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    body: dict[str, Any] = {
        "runId": run_id,
        "runtimeStatus": _status_name(status),
        "createdTime": utc_time(status.created_time),
        "lastUpdatedTime": utc_time(status.last_updated_time),
        "phase": custom.get("phase"),
    }
    output = status.output
    if isinstance(output, dict) and "summary" in output:
        body["summary"] = output["summary"]
        body["servers"] = [row_times_in_utc(row) for row in output["servers"]]
        body["breaker"] = output.get("breaker")
        body["problems"] = output.get("problems")
        if output.get("files"):
            body["files"] = output["files"]
        return body
    shards = int(custom.get("shards") or 0)
    statuses = await asyncio.gather(
        *(client.get_status(shard_instance_id(run_id, i)) for i in range(shards))
    )
    totals: dict[str, Any] = {}
    counted = [custom.get("settledSummary") or {}]
    counted += [s.custom_status for s in statuses if isinstance(s.custom_status, dict)]
    for progress in counted:
        for key, value in progress.items():
            if key != "total" and isinstance(value, int) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + value
    total = custom.get("total")
    if not isinstance(total, int) or isinstance(total, bool):
        total = await _total_before_resolved(client, run_id)
        if status.runtime_status in RUNNING and body["phase"] is None:
            body["phase"] = "resolving"  # not started yet: resolving is its first step
    done = sum(totals.get(k, 0) for k in report.SUMMARY_KEYS)
    totals["total"] = total
    totals["pending"] = None if total is None else max(0, total - done - totals.get("running", 0))
    body["summary"] = totals
    running = await query_instances(client, prefix=server_prefix(run_id), statuses=list(RUNNING))
    body["servers"] = [
        row_times_in_utc(s.custom_status) for s in running if isinstance(s.custom_status, dict)
    ]
    return body


@_on_run("exports/{runId}", "GET")
async def get_export(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, run_id: str, status: Any
) -> func.HttpResponse:
    """Concise progress: counts by state, bytes, per-server rows."""
    try:
        return json_response(await _progress(client, run_id, status))
    except (QueryFailed, requests.RequestException) as err:
        logger.warning("progress of run %s unavailable: %s", run_id, err)
        return error_response(
            503, "ProgressUnavailable", f"the task hub did not answer for run {run_id}; try again"
        )


@_on_run("exports/{runId}/cancel", "POST")
async def cancel_export(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, run_id: str, status: Any
) -> func.HttpResponse:
    """Graceful cancel: nothing new is submitted; in-flight exports are followed to the end."""
    if status.runtime_status not in RUNNING:
        return error_response(409, "RunNotRunning", f"run {run_id} is {_status_name(status)}")
    # The run passes the cancel on to its running shards, and they to their running units
    # (relay_cancel): no instance query, so it reaches every unit of a run of any size.
    await client.raise_event(run_id, CANCEL_EVENT, {"requested": True})
    return json_response({"runId": run_id, "canceling": True}, 202)


class _Refused(Exception):
    """A request refused with ``answer``."""

    def __init__(self, answer: func.HttpResponse) -> None:
        super().__init__(answer.status_code)
        self.answer = answer


async def _retry_target(
    client: df.DurableOrchestrationClient, run_id: str, new_target: Target | None
) -> TargetInput:
    """The target of a retry of an export run: the new one the body gave (either form); else
    the original: container URLs serve as long as they are kept, a sealed SAS list only while
    the current ``SAS_SEALING_KEY`` still opens it (a retry that could not open it would fail
    every server at its first submission)."""
    try:
        if new_target is not None:
            return kept_target(new_target)
        kept = await read_target(client, run_id)
        why = "its history was purged"
        if kept is not None and "containers" in kept:
            return kept
        if kept is not None:
            try:
                Sealer.from_env().open(kept["sealedTarget"])
            except UnsealError as err:
                why = err.message
            else:
                return kept
    except SettingsError as err:
        logger.error("cannot start a retry: %s", err)
        raise _Refused(error_response(500, err.code, err.message)) from err
    message = f"the export target of run {run_id} cannot be used: {why}; give a new target"
    raise _Refused(error_response(409, "TargetUnavailable", message))


async def _plan_retry(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, run_id: str, status: Any
) -> tuple[str, FleetJob, TargetInput | None]:
    """The retry to start (its id, job and target), or ``_Refused`` saying why not."""
    try:
        asked = parse_retry(_read_body(req), has_body=bool(req.get_body()))
    except InvalidRequest as err:
        raise _Refused(_invalid(err)) from err
    if status.runtime_status is not OrchestrationRuntimeStatus.Completed:
        raise _Refused(
            error_response(409, "RunNotFinished", f"run {run_id} is {_status_name(status)}")
        )
    output = status.output if isinstance(status.output, dict) else {}
    failed = [
        row["id"]
        for row in output.get("servers", [])
        if row.get("status") in (report.FAILED, report.TIMED_OUT)
    ]
    if not failed:
        raise _Refused(error_response(409, "NothingToRetry", f"run {run_id} has no failed servers"))
    original = cast(
        FleetJob, status.input_ if isinstance(status.input_, dict) else json.loads(status.input_)
    )
    backup = original["request"].get("operation") == BACKUP
    if backup and asked.target is not None:
        why = f"is not taken by a retry of run {run_id}, a backup run (its backups have no target)"
        raise _Refused(_invalid(InvalidRequest({"target": why})))
    slot = await retry_slot(client, run_id)
    if slot.running is not None:
        raise _Refused(_retry_running(run_id, slot.running))
    if slot.next_id is None:
        message = f"run {run_id} was retried {MAX_RETRIES} times; retry its last retry instead"
        raise _Refused(error_response(409, "TooManyRetries", message, runId=slot.last_id))
    target = None if backup else await _retry_target(client, run_id, asked.target)
    try:
        report_container = Settings.from_env().report_container_url
    except SettingsError as err:
        logger.error("cannot start a retry: %s", err)
        raise _Refused(error_response(500, err.code, err.message)) from err
    job = retry_job(slot.next_id, original, failed, report_container)
    if asked.target is not None:
        job["sasCount"] = asked.target.count
        job["request"]["sasUriCount"] = len(asked.target.sas_uris)
        job["request"]["containers"] = list(asked.target.containers)
    return slot.next_id, job, target


@_on_run("exports/{runId}/retry-failed", "POST", show_input=True)
async def retry_failed(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, run_id: str, status: Any
) -> func.HttpResponse:
    """A new run for the Failed and TimedOut servers of a finished run: the same target, or the
    new one the body gives; at most one retry of a run at a time (``triggers.retries``)."""
    try:
        new_id, job, target = await _plan_retry(req, client, run_id, status)
    except _Refused as refused:
        return refused.answer
    try:
        await start_run(client, new_id, job, target)
    except Exception:
        # Another request started this retry first: the host keeps one running instance per id.
        if _status_name(await client.get_status(new_id)) is not None:
            return _retry_running(run_id, new_id)
        raise
    logger.info("started retry %s of run %s", new_id, run_id, extra={"run_id": new_id})
    return client.create_check_status_response(req, new_id)


def _retry_running(run_id: str, retry_id: str) -> func.HttpResponse:
    return error_response(
        409,
        "RetryRunning",
        f"retry {retry_id} of run {run_id} is running; one retry of a run at a time",
        runId=retry_id,
    )
