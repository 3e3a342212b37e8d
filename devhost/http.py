"""The host's HTTP front door: app routes, durable management webhooks and client RPC.

A ``ThreadingHTTPServer`` on loopback serves

* ``/{routePrefix}/...`` (``api`` by default): the app's HTTP triggers, matched by route template
  and method, called with an ``azure.functions.HttpRequest`` and answered from the function's
  ``HttpResponse`` (async functions run on the shared asyncio loop);
* ``/runtime/webhooks/durabletask/...``: the management URLs handed out by
  ``create_check_status_response``;
* ``/durabletask/...``: the client RPC endpoint the SDK's DurableOrchestrationClient calls.

As with ``func start``, keys are not enforced unless a function key is configured; then
FUNCTION/ADMIN routes and the webhooks need ``code=`` or ``x-functions-key``.

Any method token is routed (``BaseHTTPRequestHandler`` alone answers an unknown one with an HTML
501 page). A request whose path matches an app route whose methods do not include the request's
is answered 404 with no body, as the Functions host does: its routes carry an ASP.NET
``HttpMethodRouteConstraint`` (azure-functions-host WebScriptHostHttpRoutesManager.
InitializeHttpFunctionRoutes), so the route does not match and nothing else does (methods
compared case-insensitively). A method that is not an RFC 9110 token is refused with 400, as
Kestrel refuses the request line (HttpParser.GetUnknownMethod -> RejectRequestLine).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import azure.functions as func

from devhost.client_binding import RPC_PATH, WEBHOOK_PATH, DurableEndpoints
from devhost.engine import Engine
from devhost.errors import DevHostError
from devhost.indexing import AppIndex, FunctionKind, IndexedFunction
from devhost.invoke import call_function
from devhost.management import ApiResponse, DurableHttpApi, QueryPaging
from devhost.routes import RouteTemplate

_HOST_NOT_RUNNING = ApiResponse(
    503, b"Function host is not running.", (("Content-Type", "text/plain; charset=utf-8"),)
)

log = logging.getLogger(__name__)

_MAX_BODY = 100 * 1024 * 1024
#: An RFC 9110 token (section 5.6.2), what a method must be.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FUNCTION_ADMIN = "/admin/functions/"
_STATUS = "/status"


class _AppRoute:
    def __init__(self, function: IndexedFunction) -> None:
        assert function.http is not None
        self.function = function
        self.template = RouteTemplate.parse(function.http.template)
        self.methods = function.http.methods
        self.auth_level = function.http.auth_level


class DevHostHTTPServer(ThreadingHTTPServer):
    """The server; one thread per connection, daemon threads."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        index: AppIndex,
        engine: Callable[[], Engine],
        endpoints_factory: Callable[[str], DurableEndpoints],
        route_prefix: str,
        function_key: str | None,
        query_paging: QueryPaging | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        host, port = self.server_address[:2]
        self.origin = f"http://{host if isinstance(host, str) else host.decode()}:{port}"
        self.endpoints = endpoints_factory(self.origin)
        self.index = index
        self.engine = engine
        self.api = DurableHttpApi(engine, self.endpoints, query_paging)
        self.route_prefix = route_prefix.strip("/")
        self.function_key = function_key
        self.routes = sorted(
            (_AppRoute(f) for f in index.of_kind(FunctionKind.HTTP)),
            key=lambda r: r.template.precedence,
        )
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self.serve_forever, args=(0.05,), name="devhost-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def authorized(self, query: dict[str, list[str]], headers: dict[str, str]) -> bool:
        """Whether a request carries the configured key (always, when none is configured)."""
        if not self.function_key:
            return True
        supplied = query.get("code", [None])[0] or headers.get("x-functions-key")
        return supplied == self.function_key


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw_headers: dict[str, str]
    body: bytes
    url: str


class _Handler(BaseHTTPRequestHandler):
    server: DevHostHTTPServer
    protocol_version = "HTTP/1.1"
    #: one buffered write per response, sent at once: separate small writes for the headers and
    #: the body meet the client's delayed ACK on a kept-alive connection and cost ~40 ms each
    wbufsize = 64 * 1024

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def __getattr__(self, name: str) -> Any:
        """``do_<METHOD>`` for every other method token (TRACE, CONNECT, PROPFIND ...)."""
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        server = self.server
        if not _TOKEN.fullmatch(self.command):
            self.close_connection = True
            self._send(ApiResponse(400))
            return
        split = urlsplit(self.path)
        host = self.headers.get("Host") or server.origin.removeprefix("http://")
        try:
            body = self._read_body()
        except ValueError:
            self._send(ApiResponse(413))
            return
        request = _Request(
            method=self.command.upper(),
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            raw_headers=dict(self.headers.items()),
            body=body,
            url=f"http://{host}{self.path}",
        )
        try:
            engine = server.engine()
        except DevHostError:
            # A request that comes while the host is stopped or stopping gets the host's own
            # answer: 503 "Function host is not running." (azure-functions-host,
            # src/WebJobs.Script.WebHost/Middleware/ScriptHostCheckMiddleware.cs; today's
            # HostAvailabilityCheckMiddleware answers the same), never a traceback.
            self._send(_HOST_NOT_RUNNING)
            return
        with engine.http_request():
            response = self._route(request)
        self._send(response)

    def _route(self, request: _Request) -> ApiResponse:
        server = self.server
        path = request.path
        prefix = f"/{server.route_prefix}/" if server.route_prefix else "/"
        if path.startswith(RPC_PATH):
            return self._api(request, path[len(RPC_PATH) :])
        if path.startswith(WEBHOOK_PATH + "/"):
            if not server.authorized(request.query, request.headers):
                return ApiResponse(401)
            return self._api(request, path[len(WEBHOOK_PATH) + 1 :])
        if path == "/" or (path == "/admin/host/status" and request.method == "GET"):
            return ApiResponse.json(200, {"state": "Running", "host": "devhost"})
        if path.startswith(_FUNCTION_ADMIN) and path.endswith(_STATUS) and request.method == "GET":
            if not server.authorized(request.query, request.headers):
                return ApiResponse(401)
            return self._function_status(unquote(path[len(_FUNCTION_ADMIN) : -len(_STATUS)]))
        if path.startswith(prefix) or (path + "/") == prefix:
            return self._app(request, path[len(prefix) :])
        return ApiResponse(404)

    def _function_status(self, name: str) -> ApiResponse:
        """``GET admin/functions/{name}/status`` as the host answers it
        (FunctionsController.GetFunctionStatus): the indexing errors, or 404 for no such function.
        """
        index = self.server.index
        failed = index.error(name)
        if failed is not None:
            return ApiResponse.json(200, {"errors": [failed.error]})
        return ApiResponse.json(200, {}) if index.has_function(name) else ApiResponse(404)

    def _api(self, request: _Request, relative: str) -> ApiResponse:
        return self.server.api.handle(
            request.method,
            relative,
            query=request.query,
            headers=request.headers,
            body=request.body,
            request_url=request.url,
        )

    def _app(self, request: _Request, relative: str) -> ApiResponse:
        server = self.server
        for route in server.routes:
            params = route.template.match(relative)
            if params is None or (
                route.methods is not None and request.method not in route.methods
            ):
                continue
            if route.auth_level != "anonymous" and not server.authorized(
                request.query, request.headers
            ):
                return ApiResponse(401)
            return self._invoke(route.function, params, request)
        return ApiResponse(404)

    def _invoke(
        self, function: IndexedFunction, route_params: dict[str, str], request: _Request
    ) -> ApiResponse:
        server = self.server
        http_request = func.HttpRequest(
            method=request.method,
            url=request.url,
            headers=request.raw_headers,
            params={key: values[0] for key, values in request.query.items() if values},
            route_params=route_params,
            body=request.body,
        )
        arguments: dict[str, Any] = {function.trigger_param: http_request}
        for name in function.client_params:
            arguments[name] = server.endpoints.client_binding_json()
        for name in function.other_params:
            arguments[name] = None
        try:
            result = call_function(
                function.user_function,
                arguments,
                function_name=function.name,
                function_directory=str(server.index.app_dir),
            )
        except Exception as err:
            log.exception("Exception while executing function: Functions.%s", function.name)
            message = (
                f"Exception while executing function: Functions.{function.name}. "
                f"{type(err).__name__}: {err}"
            )
            return ApiResponse(500, message.encode(), (("Content-Type", "text/plain"),))
        return _to_response(result)

    def _send(self, response: ApiResponse) -> None:
        self.send_response(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        if "content-type" not in names and response.body:
            self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)


def _to_response(result: Any) -> ApiResponse:
    if result is None:
        return ApiResponse(204)
    if isinstance(result, func.HttpResponse):
        headers = [(str(k), str(v)) for k, v in result.headers.items()]
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", f"{result.mimetype}; charset={result.charset}"))
        return ApiResponse(result.status_code, result.get_body(), tuple(headers))
    if isinstance(result, bytes | bytearray):
        return ApiResponse(200, bytes(result), (("Content-Type", "application/octet-stream"),))
    if isinstance(result, str):
        return ApiResponse(200, result.encode(), (("Content-Type", "text/plain; charset=utf-8"),))
    return ApiResponse(200, json.dumps(result).encode(), (("Content-Type", "application/json"),))
