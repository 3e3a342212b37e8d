"""Command line: ``python -m devhost serve`` and ``python -m devhost run``.

``serve`` runs an app like ``func start`` would (optionally on a virtual clock, with a function
key, persisting the store to a directory). ``run`` posts a request file to an app route and
follows the orchestration to its end, against an in-process host or a running one (``--url``).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from devhost.clock import Clock, VirtualClock, WallClock
from devhost.host import DevHost
from devhost.indexing import AppIndex, FunctionKind
from devhost.runner import run_request
from devhost.store import Store

STORE_FILE = "devhost-store.json"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__)
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve an app until interrupted")
    serve.add_argument("--app-dir", default=".", type=Path)
    serve.add_argument("--app", default="function_app:app", help="module:attribute")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", default=7071, type=int)
    serve.add_argument("--virtual-clock", action="store_true")
    serve.add_argument("--function-key", default=None)
    serve.add_argument("--store", default=None, type=Path, help="directory for a JSON snapshot")

    run = commands.add_parser("run", help="POST a request and follow the orchestration")
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
    run.add_argument("--report", type=Path, default=None, help="write the output JSON here")
    run.add_argument("--app-dir", default=".", type=Path)
    run.add_argument("--app", default="function_app:app")
    run.add_argument("--url", default=None, help="use a running host instead of starting one")
    run.add_argument("--route-prefix", default=None, help="default: host.json's (api)")
    run.add_argument("--method", default="POST")
    run.add_argument("--virtual-clock", action="store_true")
    run.add_argument("--function-key", default=None)
    run.add_argument("--timeout", default=3600.0, type=float)
    run.add_argument("--poll-interval", default=0.25, type=float)
    return parser


def _serve(args: argparse.Namespace, console: Console) -> int:
    store_path = None if args.store is None else args.store / STORE_FILE
    store = Store() if store_path is None else Store.load(store_path)
    clock: Clock = VirtualClock() if args.virtual_clock else WallClock()
    host = DevHost(
        args.app_dir,
        args.app,
        clock=clock,
        store=store,
        host=args.host,
        port=args.port,
        function_key=args.function_key,
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with host:
        console.print(f"[bold]devhost[/bold] serving {host.app_dir} on {host.url}")
        for function in host.index.of_kind(FunctionKind.HTTP):
            assert function.http is not None
            methods = ",".join(sorted(function.http.methods or {"ANY"}))
            prefix = f"/{host.config.route_prefix}" if host.config.route_prefix else ""
            console.print(
                f"  {function.name}: [{methods}] {host.url}{prefix}/{function.http.template}"
            )
        for kind in (FunctionKind.ORCHESTRATOR, FunctionKind.ACTIVITY, FunctionKind.TIMER):
            for function in host.index.of_kind(kind):
                console.print(f"  {function.name}: {kind.value}")
        while not stop.wait(2.0):
            if store_path is not None:
                store.save(store_path)
    if store_path is not None:
        store.save(store_path)
    return 0


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
            report=args.report,
            progress_route=args.progress,
        )
        return 0 if result.succeeded else 1
    clock: Clock = VirtualClock() if args.virtual_clock else WallClock()
    with DevHost(args.app_dir, args.app, clock=clock, function_key=args.function_key) as host:
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
            report=args.report,
            progress_route=args.progress or progress,
        )
    return 0 if result.succeeded else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.WARNING))
    console = Console()
    if args.command == "serve":
        return _serve(args, console)
    return _run(args, console)
