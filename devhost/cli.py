"""Command line: ``python -m devhost serve`` and ``python -m devhost run``.

``serve`` runs an app like ``func start`` would (optionally on a virtual clock, with a function
key, keeping the store in a directory). ``run`` posts a request file to an app route and follows
the orchestration to its end, against an in-process host or a running one (``--url``). Both work
with only the ARM settings in the environment: a required secret that is not set is generated
for local runs (``devhost.trial``), and a function whose binding does not resolve is disabled,
not fatal (``devhost.indexing``); the log says which.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.console import Console

from devhost.clock import Clock, VirtualClock, WallClock
from devhost.config import load_local_settings
from devhost.host import DevHost
from devhost.indexing import AppIndex, FunctionKind
from devhost.management import QueryPaging, paging_default
from devhost.runner import RunResult, run_request
from devhost.store import Store
from devhost.trial import apply_local_defaults
from mysqlexport.report_files import (
    ServerName,
    duration_seconds,
    failures,
    human_bytes,
    human_duration,
    render_csv,
    render_html,
    render_json,
)

STORE_FILE = "devhost-store.json"
#: Seconds between snapshots of the store while serving with ``--store``.
SAVE_INTERVAL = 2.0

_EMPTY_PAGES_HELP = (
    "answer every other instance-query page with no rows and an x-ms-continuation-token, as "
    "Azure Storage may, to check that callers follow the token"
)
_VIRTUAL_CLOCK_HELP = (
    "run durable timers on a virtual clock that jumps to the next timer whenever the host is "
    "idle (hours of waiting pass at once); default: the wall clock"
)


def _app_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--app-dir",
        default=".",
        type=Path,
        help="directory of the app: its module, host.json and local.settings.json (default: .)",
    )
    parser.add_argument(
        "--app",
        default="function_app:app",
        help="the app object as module:attribute (default: function_app:app)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser (every option described in ``--help``)."""
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__)
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="serve an app until interrupted",
        description="Serve an app like func start: its routes under /api, the durable "
        "management webhooks and the client RPC, its timers, until Ctrl+C.",
    )
    _app_options(serve)
    serve.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port", default=7071, type=int, help="TCP port (default 7071; 0 picks a free one)"
    )
    serve.add_argument("--virtual-clock", action="store_true", help=_VIRTUAL_CLOCK_HELP)
    serve.add_argument(
        "--function-key",
        default=None,
        metavar="KEY",
        help="require this key (?code= or x-functions-key) on FUNCTION and ADMIN routes and "
        "the durable webhooks, as a deployed app does (default: none, as func start)",
    )
    serve.add_argument(
        "--store",
        default=None,
        type=Path,
        metavar="DIR",
        help=f"directory to keep the instance store in ({STORE_FILE}, saved every "
        f"{SAVE_INTERVAL:g} s and at exit) and any generated setting; without it a restart "
        "forgets every run",
    )
    serve.add_argument("--empty-query-pages", action="store_true", help=_EMPTY_PAGES_HELP)

    run = commands.add_parser(
        "run",
        help="POST a request and follow the orchestration",
        description="POST a JSON request to an app route and follow the orchestration it "
        "starts to its end, with live progress; exit status 0 when it completed.",
    )
    run.add_argument("request", type=Path, help="JSON file with the request body")
    run.add_argument(
        "--route",
        default=None,
        help="app route to POST to (default: the app's only POST route without parameters)",
    )
    run.add_argument(
        "--progress",
        default=None,
        help="route showing progress, e.g. exports/{id} (default: a GET route ROUTE/{...})",
    )
    run.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the run's report here: FILE.html the report page (one self-contained file), "
        "FILE.csv one row per server, any other name the output JSON; the path is printed",
    )
    _app_options(run)
    run.add_argument("--url", default=None, help="use a running host instead of starting one")
    run.add_argument(
        "--route-prefix",
        default=None,
        help="prefix of the app's routes (default: host.json's routePrefix; with --url: api)",
    )
    run.add_argument("--method", default="POST", help="HTTP method of the request (default POST)")
    run.add_argument("--virtual-clock", action="store_true", help=_VIRTUAL_CLOCK_HELP)
    run.add_argument(
        "--function-key",
        default=None,
        metavar="KEY",
        help="key sent with every request (?code=); without --url the started host requires it",
    )
    run.add_argument(
        "--timeout",
        default=3600.0,
        type=float,
        help="seconds to wait for the orchestration to end (default 3600)",
    )
    run.add_argument(
        "--poll-interval",
        default=0.25,
        type=float,
        help="seconds between polls of the status URL (default 0.25)",
    )
    run.add_argument("--empty-query-pages", action="store_true", help=_EMPTY_PAGES_HELP)
    return parser


def _local_settings(app_dir: Path, store_dir: Path | None) -> None:
    """Settings as ``func start`` gives them (environment, then local.settings.json), then the
    local defaults for whatever required secret is still unset."""
    load_local_settings(app_dir.resolve())
    apply_local_defaults(store_dir)


def serve(
    args: argparse.Namespace,
    console: Console,
    *,
    clock: Clock | None = None,
    stop: threading.Event | None = None,
    on_ready: Callable[[DevHost], None] | None = None,
) -> int:
    """``serve``: until ``stop`` is set (by default: until SIGINT or SIGTERM).

    ``clock`` overrides the one the options choose (a test shares its emulator's), ``on_ready``
    is called with the started host.
    """
    _local_settings(args.app_dir, args.store)
    store_path = None if args.store is None else args.store / STORE_FILE
    store = Store() if store_path is None else Store.load(store_path)
    chosen: Clock = clock or (VirtualClock() if args.virtual_clock else WallClock())
    if stop is None:
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with ExitStack() as scope:
        if args.empty_query_pages:
            scope.enter_context(paging_default(QueryPaging(empty_pages=True)))
        host = scope.enter_context(
            DevHost(
                args.app_dir,
                args.app,
                clock=chosen,
                store=store,
                host=args.host,
                port=args.port,
                function_key=args.function_key,
            )
        )
        _describe(host, console, store_path)
        if on_ready is not None:
            on_ready(host)
        while not stop.wait(SAVE_INTERVAL):
            if store_path is not None:
                store.save(store_path)
    if store_path is not None:
        store.save(store_path)
    return 0


def _describe(host: DevHost, console: Console, store_path: Path | None) -> None:
    console.print(f"[bold]devhost[/bold] serving {host.app_dir} on {host.url}")
    for function in host.index.of_kind(FunctionKind.HTTP):
        assert function.http is not None
        methods = ",".join(sorted(function.http.methods or {"ANY"}))
        prefix = f"/{host.config.route_prefix}" if host.config.route_prefix else ""
        console.print(f"  {function.name}: [{methods}] {host.url}{prefix}/{function.http.template}")
    for kind in (FunctionKind.ORCHESTRATOR, FunctionKind.ACTIVITY, FunctionKind.TIMER):
        for function in host.index.of_kind(kind):
            console.print(f"  {function.name}: {kind.value}")
    for failed in host.index.errors:
        console.print(
            f"  {failed.name}: {failed.kind.value} [red]disabled[/red] ({failed.error})",
            highlight=False,
        )
    if store_path is None:
        console.print("  store: in memory (a restart forgets every run; --store DIR keeps them)")
    else:
        console.print(f"  store: {store_path}")


def default_routes(index: AppIndex, route: str | None) -> tuple[str, str | None]:
    """The route to POST to and a progress route, found from the app's HTTP functions."""
    http = [f.http for f in index.of_kind(FunctionKind.HTTP) if f.http is not None]
    if route is None:
        candidates = [
            h.template
            for h in http
            if "{" not in h.template and (h.methods is None or "POST" in h.methods)
        ]
        if len(candidates) != 1:
            raise SystemExit(f"give --route: the app's POST routes are {sorted(candidates)}")
        route = candidates[0]
    prefix = route.strip("/") + "/"
    progress = [
        h.template
        for h in http
        if h.template.startswith(prefix)
        and h.template.count("/") == prefix.count("/")
        and h.template[len(prefix) :].startswith("{")
        and (h.methods is None or "GET" in h.methods)
    ]
    return route, (progress[0] if len(progress) == 1 else None)


def _run(args: argparse.Namespace, console: Console) -> int:
    body = json.loads(args.request.read_text(encoding="utf-8"))
    if args.url:
        if args.route is None:
            raise SystemExit("give --route when using --url")
        result = run_request(
            args.url,
            args.route,
            body,
            method=args.method,
            route_prefix=args.route_prefix or "api",
            function_key=args.function_key,
            poll_interval=args.poll_interval,
            timeout=args.timeout,
            console=console,
            progress_route=args.progress,
        )
        return _finish(result, args.report, console)
    _local_settings(args.app_dir, None)
    clock: Clock = VirtualClock() if args.virtual_clock else WallClock()
    with ExitStack() as scope:
        if args.empty_query_pages:
            scope.enter_context(paging_default(QueryPaging(empty_pages=True)))
        host = scope.enter_context(
            DevHost(args.app_dir, args.app, clock=clock, function_key=args.function_key)
        )
        route, progress = default_routes(host.index, args.route)
        result = run_request(
            host.url,
            route,
            body,
            method=args.method,
            route_prefix=args.route_prefix or host.config.route_prefix,
            function_key=args.function_key,
            poll_interval=args.poll_interval,
            timeout=args.timeout,
            console=console,
            progress_route=args.progress or progress,
        )
    return _finish(result, args.report, console)


def _finish(result: RunResult, report: Path | None, console: Console) -> int:
    """Say how the run went (for this app's run report: the counts, the bytes and every server
    that failed or timed out, with ARM's code), write ``report``, return the exit status."""
    if is_run_report(result.output):
        for line in run_summary(result.output):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_bytes(report_bytes(result.output, report, run_concurrency(result.payload)))
        console.print(f"report written to {report.resolve()}", highlight=False, soft_wrap=True)
    return 0 if result.succeeded else 1


#: ``--report FILE``'s format by FILE's suffix (any other: the output JSON).
PAGE_SUFFIXES = (".html", ".htm")


def run_concurrency(payload: Any) -> int | None:
    """The run's concurrency limit from its status answer: the orchestration's input, this app's
    ``FleetJob``, holds the limit the run used (``maxConcurrency``: the request's, or the app's
    ``MAX_CONCURRENCY``); None for anything else."""
    job = payload.get("input") if isinstance(payload, Mapping) else None
    if isinstance(job, str):  # the status API may give the input as its JSON text
        try:
            job = json.loads(job)
        except ValueError:
            return None
    value = job.get("maxConcurrency") if isinstance(job, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def report_bytes(output: Any, path: Path, concurrency: int | None = None) -> bytes:
    """What ``--report path`` holds: the page (``.html``), the servers' CSV (``.csv``) or the
    output JSON, as ``mysqlexport.report_files`` renders the files a run keeps.

    Raises:
        SystemExit: a page or CSV asked of an output that is not a run report.
    """
    suffix = path.suffix.lower()
    if suffix in (*PAGE_SUFFIXES, ".csv") and not is_run_report(output):
        raise SystemExit(f"--report {path}: the output is not a run report; use a .json name")
    if suffix in PAGE_SUFFIXES:
        return render_html(output, concurrency=concurrency)
    if suffix == ".csv":
        return render_csv(output)
    return render_json(output) if isinstance(output, Mapping) else json.dumps(output).encode()


def is_run_report(output: Any) -> bool:
    """Whether ``output`` is this app's run report (``summary`` and ``servers``)."""
    return (
        isinstance(output, Mapping)
        and isinstance(output.get("summary"), Mapping)
        and isinstance(output.get("servers"), list)
    )


#: Failing servers listed one by one; past it, a count (the page and the CSV have them all).
LISTED_FAILURES = 50


def run_summary(report: Mapping[str, Any]) -> list[str]:
    """A run report in plain lines: outcome and counts, bytes (binary units and exact), how
    long, and each server that Failed or TimedOut with ARM's error code and message."""
    summary = report["summary"]
    counts = ", ".join(
        f"{summary.get(key, 0):,} {label}"
        for key, label in (
            ("succeeded", "succeeded"),
            ("failed", "failed"),
            ("timedOut", "timed out"),
            ("canceled", "canceled"),
            ("skipped", "skipped"),
        )
    )
    exported = int(summary.get("bytes") or 0)
    run_time = duration_seconds(report)
    lines = [
        f"Run {report.get('runId')}: {summary.get('outcome')} "
        f"({summary.get('operation', 'export')}{', dry run' if report.get('dryRun') else ''})",
        f"  servers: {summary.get('total', 0):,} ({counts})",
    ]
    took = f" in {human_duration(run_time)}" if run_time is not None else ""
    if summary.get("operation", "export") == "export":
        lines.append(f"  exported: {human_bytes(exported)} ({exported:,} bytes){took}")
    elif took:
        lines.append(f"  ran{took}")
    for problem in report.get("problems") or ():
        message = " ".join(str(problem.get("message") or "").split())
        lines.append(f"  problem: {problem.get('code')}: {message}")
    failed = failures(report)
    if failed:
        lines.append(f"Failed or timed out ({len(failed)}):")
        for row in failed[:LISTED_FAILURES]:
            server = ServerName.of(str(row.get("id") or ""))
            error = row.get("error") or {}
            message = " ".join(str(error.get("message") or "").split())
            lines.append(
                f"  {server.name} ({server.resource_group}) {row.get('status')}: "
                f"{error.get('code') or '-'}: {message[:300]}{'…' if len(message) > 300 else ''}"
            )
        if len(failed) > LISTED_FAILURES:
            lines.append(f"  … and {len(failed) - LISTED_FAILURES:,} more (--report FILE.html)")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.WARNING))
    console = Console()
    if args.command == "serve":
        return serve(args, console)
    return _run(args, console)
