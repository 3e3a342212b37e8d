"""The request pipeline: route, count, authenticate, throttle, inject faults, dispatch, decorate.

Why this module exists: every ARM request goes through the same steps in the same order, and the
order matters to a client (a throttled request never reaches the resource provider; a fault may
strike before or after an export is accepted). Routing and those steps live here; what each
operation means lives in ``handlers``; sockets live in ``server``.

Per ARM request: count it (kind, server, foreign Host; a poll of an on-demand backup's operation
is counted as ``backup_operation_status`` / ``backup_async_operation``) -> bearer token (401) ->
path known (404) and method allowed (405) -> throttling bucket for (subscription, principal,
read|write) (429) ->
faults rolled (unless ``fault_after_accept``) -> handler -> faults rolled after it (with
``fault_after_accept``) -> common headers (``x-ms-request-id``, ``x-ms-correlation-request-id``,
``x-ms-ratelimit-remaining-subscription-reads|writes``). The token endpoint and ``/_emulator/``
admin routes are neither authenticated nor throttled nor subject to faults.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from armemulator import errors
from armemulator.admin import PREFIX as ADMIN_PREFIX
from armemulator.admin import AdminRoutes
from armemulator.auth import Principal, TokenAuthority, TokenError
from armemulator.clock import Clock, retry_after_headers
from armemulator.counters import RequestCounters
from armemulator.errors import ArmError
from armemulator.faults import FaultDecision, FaultInjector, FaultType
from armemulator.handlers import ArmOperations
from armemulator.identity import IdentityEndpoint
from armemulator.kinds import BACKUP_POLLING_KINDS, POLLING_KINDS, WRITE_KINDS, Kind
from armemulator.representations import iso
from armemulator.throttle import OperationType, SubscriptionThrottle
from armemulator.wire import JSON_CONTENT_TYPE, Request, Response

IDENTITY_PATH = "/msi/token"

_SUB = r"/subscriptions/(?P<subscription>[^/]+)"
_PROVIDER = r"/providers/Microsoft\.DBforMySQL"
_RG = _SUB + r"/resourceGroups/(?P<resource_group>[^/]+)"
_SERVER = _RG + _PROVIDER + r"/flexibleServers/(?P<server>[^/]+)"
_LOCATION = _SUB + _PROVIDER + r"/locations/(?P<location>[^/]+)"


@dataclass(frozen=True)
class Route:
    kind: Kind
    method: str
    pattern: re.Pattern[str]


def _route(kind: Kind, method: str, pattern: str) -> Route:
    return Route(kind, method, re.compile(f"^{pattern}/?$", re.IGNORECASE))


ROUTES: tuple[Route, ...] = (
    _route(Kind.BACKUP_AND_EXPORT, "POST", _SERVER + "/backupAndExport"),
    _route(Kind.ASYNC_OPERATION, "GET", _LOCATION + "/azureAsyncOperation/(?P<operation>[^/]+)"),
    _route(Kind.OPERATION_STATUS, "GET", _LOCATION + "/operationStatus/(?P<operation>[^/]+)"),
    _route(Kind.VALIDATE_BACKUP, "POST", _SERVER + "/validateBackup"),
    _route(Kind.CREATE_BACKUP, "PUT", _SERVER + "/backupsV2/(?P<backup>[^/]+)"),
    _route(Kind.GET_BACKUP, "GET", _SERVER + "/backupsV2/(?P<backup>[^/]+)"),
    _route(Kind.LIST_BACKUPS, "GET", _SERVER + "/backupsV2"),
    _route(Kind.GET_SERVER, "GET", _SERVER),
    _route(Kind.LIST_SERVERS_BY_RESOURCE_GROUP, "GET", _RG + _PROVIDER + "/flexibleServers"),
    _route(Kind.LIST_SERVERS, "GET", _SUB + _PROVIDER + "/flexibleServers"),
    _route(Kind.LIST_OPERATIONS, "GET", _PROVIDER + "/operations"),
)


def match_route(path: str, method: str) -> tuple[Route | None, dict[str, str], tuple[str, ...]]:
    """The route for ``path`` and ``method`` (else the first route of ``path``, whose method
    differs), its path parameters, and every method ``path`` allows."""
    matched: list[tuple[Route, dict[str, str]]] = []
    for route in ROUTES:
        found = route.pattern.match(path)
        if found:
            matched.append((route, found.groupdict()))
    if not matched:
        return None, {}, ()
    allowed = tuple(route.method for route, _ in matched)
    for route, params in matched:
        if route.method == method:
            return route, params, allowed
    return matched[0][0], matched[0][1], allowed


def _bearer(request: Request) -> str | None:
    value = request.header("authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


class Application:
    """Turns a ``Request`` into a ``Response``; thread-safe."""

    def __init__(
        self,
        *,
        clock: Clock,
        operations: ArmOperations,
        authority: TokenAuthority,
        identity: IdentityEndpoint,
        admin: AdminRoutes,
        throttle: SubscriptionThrottle,
        injector: FaultInjector,
        counters: RequestCounters,
        served_hosts: Callable[[], frozenset[str]],
    ) -> None:
        self._clock = clock
        self._ops = operations
        self._authority = authority
        self._identity = identity
        self._admin = admin
        self._throttle = throttle
        self._injector = injector
        self._counters = counters
        self._served_hosts = served_hosts

    def handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith(ADMIN_PREFIX):
            return self._admin.handle(request)
        host = (request.header("host") or "").lower()
        foreign = host not in self._served_hosts()
        if path.rstrip("/").lower() == IDENTITY_PATH:
            return self._token(request, foreign)
        route, params, allowed = match_route(path, request.method)
        kind = route.kind if route and route.method == request.method else Kind.UNKNOWN
        server = params.get("server")
        if kind in POLLING_KINDS:
            server, is_backup = self._ops.describe_operation(params)
            if is_backup:
                kind = BACKUP_POLLING_KINDS[kind]
        self._counters.request(kind, server, foreign_host=foreign)
        response = self._arm(request, route, params, kind, allowed)
        if not response.reset:
            self._counters.response(kind, response.status)
        return response

    # --- token endpoint ---------------------------------------------------------------------

    def _token(self, request: Request, foreign: bool) -> Response:
        self._counters.request(Kind.IDENTITY, None, foreign_host=foreign)
        if request.method != "GET":
            response = Response.json(
                405, {"statusCode": 405, "message": "Use GET."}, {"Allow": "GET"}
            )
        else:
            response = self._identity.handle(request)
        if response.status == 200:
            self._counters.token_issued()
        self._counters.response(Kind.IDENTITY, response.status)
        response.headers["x-ms-request-id"] = str(uuid.uuid4())
        return response

    # --- ARM --------------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> Principal:
        token = _bearer(request)
        if token is None:
            raise errors.missing_authorization()
        if not token:
            raise errors.invalid_token("The 'Authorization' header is not a Bearer token.")
        try:
            return self._authority.verify(token)
        except TokenError as err:
            raise errors.invalid_token(str(err)) from err

    def _arm(
        self,
        request: Request,
        route: Route | None,
        params: dict[str, str],
        kind: Kind,
        allowed: tuple[str, ...],
    ) -> Response:
        correlation = (
            request.header("x-ms-correlation-request-id")
            or request.header("x-ms-client-request-id")
            or str(uuid.uuid4())
        )
        headers = {
            "x-ms-request-id": str(uuid.uuid4()),
            "x-ms-correlation-request-id": correlation,
            "Cache-Control": "no-cache",
        }
        client_request_id = request.header("x-ms-client-request-id")
        if client_request_id:
            headers["x-ms-client-request-id"] = client_request_id
        fault: FaultDecision | None = None
        subscription = params.get("subscription", "")
        try:
            principal = self._authenticate(request)
            if route is None:
                raise errors.path_not_found(request.path)
            if request.method != route.method:
                raise errors.method_not_allowed(request.method, ", ".join(allowed))
            op = OperationType.WRITE if kind in WRITE_KINDS else OperationType.READ
            decision = self._throttle.take(subscription, principal.object_id, op)
            headers[f"x-ms-ratelimit-remaining-subscription-{op.value}s"] = str(decision.remaining)
            if not decision.allowed:
                raise errors.throttled(
                    op.value,
                    subscription,
                    principal.object_id,
                    decision.retry_after_seconds,
                    retry_after_headers(self._clock, decision.retry_after_seconds),
                )
            fault = self._injector.decide(kind)
            response: Response | None = None
            if fault is not None and not fault.after_accept:
                response = self._apply(fault, subscription, correlation)
            if response is None:
                response = self._dispatch(kind, request, params, principal)
            if fault is not None and fault.after_accept:
                response = self._apply(fault, subscription, correlation) or response
        except ArmError as err:
            response = Response(err.status, dict(err.headers), err.body())
            response.headers["Content-Type"] = JSON_CONTENT_TYPE
        if not response.reset:
            for name, value in headers.items():
                response.headers.setdefault(name, value)
        return response

    def _apply(self, fault: FaultDecision, subscription: str, correlation: str) -> Response | None:
        """Sleep for a slow fault; return the answer that replaces the real one, if any."""
        if fault.delay_seconds > 0:
            time.sleep(fault.delay_seconds)
        if fault.fault is FaultType.CONNECTION_RESET:
            return Response.connection_reset()
        if fault.fault is FaultType.ERROR_500:
            err = errors.internal_server_error(subscription, correlation, iso(time.time()))
        elif fault.fault is FaultType.ERROR_503:
            seconds = self._injector.faults.retry_after_seconds
            err = errors.service_unavailable(retry_after_headers(self._clock, seconds))
        else:
            return None
        return Response(err.status, {**err.headers, "Content-Type": JSON_CONTENT_TYPE}, err.body())

    def _dispatch(
        self, kind: Kind, request: Request, params: dict[str, str], principal: Principal
    ) -> Response:
        ops = self._ops
        if kind is Kind.BACKUP_AND_EXPORT:
            return ops.backup_and_export(request, params, principal)
        if kind in (Kind.ASYNC_OPERATION, Kind.BACKUP_ASYNC_OPERATION):
            return ops.async_operation(request, params)
        if kind in (Kind.OPERATION_STATUS, Kind.BACKUP_OPERATION_STATUS):
            return ops.operation_status(request, params)
        if kind is Kind.CREATE_BACKUP:
            return ops.create_backup(request, params, principal)
        if kind is Kind.GET_BACKUP:
            return ops.get_backup(request, params, principal)
        if kind is Kind.LIST_BACKUPS:
            return ops.list_backups(request, params, principal)
        if kind is Kind.VALIDATE_BACKUP:
            return ops.validate_backup(request, params, principal)
        if kind is Kind.GET_SERVER:
            return ops.get_server(request, params, principal)
        if kind in (Kind.LIST_SERVERS, Kind.LIST_SERVERS_BY_RESOURCE_GROUP):
            return ops.list_servers(request, params, principal)
        if kind is Kind.LIST_OPERATIONS:
            return ops.list_operations(request)
        raise errors.path_not_found(request.path)
