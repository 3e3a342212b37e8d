"""The Durable HTTP API: client RPC endpoints and instance management webhooks.

The SDK's DurableOrchestrationClient calls the host's local RPC endpoint (``rpcBaseUrl``);
users and tools follow the management URLs (``statusQueryGetUri`` ...). Both are served by the
extension's HttpApiHandler with the same routes and status codes, reproduced here:

* ``POST orchestrators/{name}[/{id}]`` -> 202 + check-status payload; 400 unknown function;
  500 if ``id`` is still running (the host's InvalidOperationException).
* ``GET instances/{id}`` -> 202 + ``Location`` + ``Retry-After: 5`` while Pending/Running/
  ContinuedAsNew, 200 when Completed/Terminated/Failed, 404 unknown.
* ``GET instances/`` (filters) -> 200 with one page of the list (below); ``DELETE
  instances/{id}`` / ``instances/`` purge (below).
* ``POST instances/{id}/terminate|restart``, ``instances/{id}/raiseEvent/{event}``.
Suspend, resume, rewind and entities answer 501 (not emulated).

Instance queries are paged as the extension pages them over Azure Storage
(``HttpApiHandler.HandleGetStatusRequestAsync`` in azure-functions-durable-extension): the
``top`` query parameter is the page size (default 100, ``OrchestrationStatusQueryCondition.
PageSize``), the request header ``x-ms-continuation-token`` picks the page, and every answer
carries an ``x-ms-continuation-token`` header: an opaque token while more may follow, the empty
string after the last page (the provider's token is null there, and the handler adds the header
anyway: test ``HttpApiHandlerTests.GetAllStatus_is_Success`` asserts ``string.Empty``). Azure
Tables gives at most 1,000 rows per answer and may answer a page with no rows and still a token
(a query timeout or partition boundary: learn.microsoft.com/rest/api/storageservices/
query-timeout-and-pagination); ``QueryPaging(empty_pages=True)`` makes devhost do that on every
other page, so a test can show that a caller follows tokens rather than stopping at an empty page.

Purges answer as the extension's handler does over the Azure Storage provider
(``HttpApiHandler.HandleDeleteHistoryByIdRequestAsync`` and
``HandleDeleteHistoryWithFiltersRequestAsync`` in azure-functions-durable-extension;
``AzureTableTrackingStore.PurgeInstanceHistoryAsync`` and ``DeleteHistoryAsync`` in
Azure/durabletask's DurableTask.AzureStorage). A purge deletes an
instance's history and state (its Instances row) and nothing else: no sub-orchestration of it
(they are instances of their own, purged when a filter matches them or by their own id).

* ``DELETE instances/{id}`` -> 404 for an unknown id, else 200 ``{"instancesDeleted": 1}``
  whatever the instance's status: the provider deletes a running instance too.
* ``DELETE instances/?createdTimeFrom=...[&createdTimeTo=...][&runtimeStatus=a,b]`` -> 400 (a JSON
  string) without a ``createdTimeFrom`` that parses; ``createdTimeTo`` defaults to the host's now;
  both bounds are inclusive (``ge`` / ``le``). Each ``runtimeStatus`` value is parsed into
  DurableTask.Core's ``OrchestrationStatus`` as ``Enum.TryParse`` does (case-sensitive name or a
  number; others are dropped), then the provider keeps only Completed, Terminated, Canceled and
  Failed. When none is left (no ``runtimeStatus``, or only unfinished or misspelt ones) the query
  has no status condition at all, and every instance created in the range is deleted, running
  ones included; a caller that means "finished only" must name the finished statuses. The answer
  is 200 ``{"instancesDeleted": n}``, or 404 with no body when nothing matched (the Python SDK
  reads that 404 as ``instances_deleted == 0``).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote

from devhost.client_binding import DurableEndpoints
from devhost.clock import parse_timestamp
from devhost.engine import Engine
from devhost.errors import (
    InstanceAlreadyRunningError,
    InstanceGoneError,
    InstanceNotFoundError,
    UnknownFunctionError,
)
from devhost.status import status_payload
from devhost.store import Instance, RuntimeStatus

log = logging.getLogger(__name__)

_RUNNING = frozenset({RuntimeStatus.PENDING, RuntimeStatus.RUNNING, RuntimeStatus.CONTINUED_AS_NEW})

#: Request and response header carrying a query's position (HttpApiHandler.cs).
CONTINUATION_HEADER = "x-ms-continuation-token"
#: ``int.TryParse`` as the handler reads ``top``: optional blanks and sign, digits only.
_INT = re.compile(r"^\s*[+-]?\d+\s*$")
_INT32_MAX = 2**31 - 1
#: The handler's answer to an exception it did not expect (HttpApiHandler.HandleRequestAsync).
_SOMETHING_WENT_WRONG = "Something went wrong while processing your request"


@dataclass(frozen=True)
class QueryPaging:
    """How ``GET instances/`` pages its answer.

    Attributes:
        page_size: rows per page when the request gives no ``top`` (the extension's 100).
        max_rows: most rows in one answer whatever ``top`` says (Azure Tables' 1,000).
        empty_pages: answer every other page with no rows and a token, starting with the first,
            as Azure Storage may; a caller that reads one page then sees nothing at all.
    """

    page_size: int = 100
    max_rows: int = 1000
    empty_pages: bool = False


class _Defaults:
    """Module-level defaults (a class, so a block can swap them without ``global``)."""

    paging = QueryPaging()


def default_paging() -> QueryPaging:
    """The paging of every API built without its own (read at each query)."""
    return _Defaults.paging


@contextmanager
def paging_default(paging: QueryPaging) -> Iterator[None]:
    """Make ``paging`` the default for the duration of a block (tests, ``serve``)."""
    saved = _Defaults.paging
    _Defaults.paging = paging
    try:
        yield
    finally:
        _Defaults.paging = saved


@dataclass(frozen=True)
class _Position:
    """Where the next page starts; ``rows`` is False when the next answer is an empty page."""

    next_id: str | None
    rows: bool

    def token(self) -> str:
        document = {"NextPartitionKey": self.next_id, "Rows": self.rows}
        return base64.b64encode(json.dumps(document).encode("utf-8")).decode("ascii")

    @classmethod
    def parse(cls, token: str) -> _Position:
        """Raises ValueError for a token devhost did not make (the provider's base64 and JSON
        decoding throw there, and the handler answers 500)."""
        try:
            document = json.loads(base64.b64decode(token.strip(), validate=True))
        except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"The continuation token is not valid: {err}") from err
        next_id = document.get("NextPartitionKey") if isinstance(document, dict) else None
        if not isinstance(next_id, str) or not isinstance(document.get("Rows"), bool):
            raise ValueError("The continuation token is not valid.")
        return cls(next_id, document["Rows"])


@dataclass(frozen=True)
class ApiResponse:
    """An HTTP response produced by the API."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, value: Any, headers: Sequence[tuple[str, str]] = ()) -> ApiResponse:
        """A JSON response."""
        return cls(
            status,
            json.dumps(value).encode("utf-8"),
            (("Content-Type", "application/json; charset=utf-8"), *headers),
        )


def _error(
    status: int,
    message: str,
    exception: BaseException | None = None,
    exception_type: str | None = None,
) -> ApiResponse:
    body: dict[str, Any] = {"Message": message}
    if exception is not None:
        body["ExceptionMessage"] = str(exception)
        body["ExceptionType"] = exception_type or {
            UnknownFunctionError: "System.ArgumentException",
            InstanceAlreadyRunningError: "System.InvalidOperationException",
        }.get(type(exception), type(exception).__name__)
    return ApiResponse.json(status, body)


def _flag(query: Mapping[str, Sequence[str]], name: str, default: bool) -> bool:
    values = query.get(name)
    if not values:
        return default
    value = values[0].strip().lower()
    if value in ("true", "false"):
        return value == "true"
    return default


def _first(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _time(query: Mapping[str, Sequence[str]], name: str) -> float | None:
    text = _first(query, name)
    if not text:
        return None
    try:
        return parse_timestamp(text)
    except ValueError:
        return None


#: DurableTask.Core ``OrchestrationStatus`` names in value order (``Running`` is 0): what the purge
#: handler parses ``runtimeStatus`` into (``Enum.TryParse``: a case-sensitive name or a number).
_ORCHESTRATION_STATUS: Final = (
    "Running",
    "Completed",
    "ContinuedAsNew",
    "Failed",
    "Canceled",
    "Terminated",
    "Pending",
    "Suspended",
)
#: The statuses the Azure Storage provider's purge keeps from the request (the rest it drops).
_PURGEABLE: Final = frozenset({"Completed", "Terminated", "Canceled", "Failed"})
_NUMBER = re.compile(r"^[+-]?\d+$")


def _purge_statuses(query: Mapping[str, Sequence[str]]) -> frozenset[RuntimeStatus] | None:
    """The status condition of a purge by filter; None for none (every status matches).

    ``Canceled`` is kept as the provider keeps it, but no devhost instance has that status: a
    request for it alone has a condition that nothing matches.
    """
    named: set[str] = set()
    for value in query.get("runtimeStatus", []):
        for part in value.split(","):
            text = part.strip()
            if text in _ORCHESTRATION_STATUS:
                named.add(text)
            elif _NUMBER.match(text) and 0 <= int(text) < len(_ORCHESTRATION_STATUS):
                named.add(_ORCHESTRATION_STATUS[int(text)])
    kept = named & _PURGEABLE
    if not kept:
        return None
    return frozenset(status for status in RuntimeStatus if status.value in kept)


def _statuses(query: Mapping[str, Sequence[str]]) -> list[RuntimeStatus] | None:
    names = [part.strip() for value in query.get("runtimeStatus", []) for part in value.split(",")]
    by_name = {status.value.casefold(): status for status in RuntimeStatus}
    statuses = [by_name[n.casefold()] for n in names if n and n.casefold() in by_name]
    return statuses or None


class DurableHttpApi:
    """Serves the durable HTTP routes for whichever engine is current."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        endpoints: DurableEndpoints,
        paging: QueryPaging | None = None,
    ) -> None:
        self._engine = engine
        self._endpoints = endpoints
        self._paging = paging

    @property
    def paging(self) -> QueryPaging:
        """This API's query paging (the module default unless one was given)."""
        return self._paging or default_paging()

    def handle(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Sequence[str]],
        headers: Mapping[str, str],
        body: bytes,
        request_url: str,
    ) -> ApiResponse:
        """Answer one request; ``path`` is relative to the RPC or webhook base."""
        hub = _first(query, "taskHub")
        if hub and hub.casefold() != self._endpoints.hub_name.casefold():
            return _error(404, f"Task hub '{hub}' is not served by this host.")
        parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
        method = method.upper()
        if not parts:
            return ApiResponse(404)
        head = parts[0].lower()
        if head == "orchestrators" and len(parts) in (2, 3):
            if method != "POST":
                return ApiResponse(404)
            return self._start(parts[1], parts[2] if len(parts) == 3 else None, query, body)
        if head == "entities":
            if method not in ("GET", "POST", "DELETE"):  # what the handler's EntityRoute takes
                return ApiResponse(404)
            return _error(501, "Durable entities are not supported by devhost.")
        if head != "instances":
            return ApiResponse(404)
        if len(parts) == 1:
            if method == "GET":
                return self._list(query, headers)
            if method == "DELETE":
                return self._purge_where(query)
            return ApiResponse(404)
        instance_id = parts[1]
        if len(parts) == 2:
            if method == "GET":
                return self._status(instance_id, query, request_url)
            if method == "DELETE":
                return self._purge(instance_id)
            return ApiResponse(404)
        operation = parts[2].lower()
        if method != "POST":
            return ApiResponse(404)
        if operation == "raiseevent" and len(parts) == 4:
            return self._raise_event(instance_id, parts[3], headers, body)
        if len(parts) != 3:
            return ApiResponse(404)
        if operation == "terminate":
            return self._terminate(instance_id, _first(query, "reason"))
        if operation == "restart":
            return self._restart(instance_id, _flag(query, "restartWithNewInstanceId", True))
        if operation in ("suspend", "resume", "rewind"):
            if self._engine().store.get(instance_id, with_history=False) is None:
                return ApiResponse(404)
            return _error(501, f"The {operation} operation is not supported by devhost.")
        return ApiResponse(404)

    # -- operations -----------------------------------------------------------------------------
    def check_status_response(self, instance_id: str) -> ApiResponse:
        """202 with the management payload, ``Location`` and ``Retry-After: 10``."""
        payload = self._endpoints.management_urls(instance_id)
        return ApiResponse.json(
            202,
            payload,
            (("Location", payload["statusQueryGetUri"]), ("Retry-After", "10")),
        )

    def _start(
        self,
        name: str,
        instance_id: str | None,
        query: Mapping[str, Sequence[str]],
        body: bytes,
    ) -> ApiResponse:
        input_text: str | None = None
        if body.strip():
            try:
                input_text = json.dumps(json.loads(body))
            except json.JSONDecodeError as err:
                return _error(400, "Invalid JSON content", err)
        engine = self._engine()
        try:
            new_id = engine.start_orchestration(name, input_text, instance_id or None)
        except UnknownFunctionError as err:
            return _error(400, "One or more of the arguments submitted is incorrect", err)
        except InstanceAlreadyRunningError as err:
            return _error(500, "Something went wrong while processing your request", err)
        timeout = _first(query, "timeout")
        if timeout:
            return self._wait_or_check(new_id, float(timeout))
        return self.check_status_response(new_id)

    def _wait_or_check(self, instance_id: str, timeout: float) -> ApiResponse:
        try:
            instance = self._engine().wait_for(instance_id, timeout)
        except TimeoutError:
            return self.check_status_response(instance_id)
        if instance.status is RuntimeStatus.COMPLETED:
            return ApiResponse.json(200, instance.output)
        code = 500 if instance.status is RuntimeStatus.FAILED else 200
        return ApiResponse.json(code, status_payload(instance))

    def _status(
        self, instance_id: str, query: Mapping[str, Sequence[str]], request_url: str
    ) -> ApiResponse:
        show_history = _flag(query, "showHistory", False)
        instance = self._engine().store.get(instance_id, with_history=show_history)
        if instance is None:
            return ApiResponse(404)
        payload = status_payload(
            instance,
            show_input=_flag(query, "showInput", True),
            show_history=show_history,
            show_history_output=_flag(query, "showHistoryOutput", False),
        )
        if instance.status in _RUNNING:
            return ApiResponse.json(202, payload, (("Location", request_url), ("Retry-After", "5")))
        failed_code = 500 if _flag(query, "returnInternalServerErrorOnFailure", False) else 200
        code = failed_code if instance.status is RuntimeStatus.FAILED else 200
        return ApiResponse.json(code, payload)

    def _list(self, query: Mapping[str, Sequence[str]], headers: Mapping[str, str]) -> ApiResponse:
        paging = self.paging
        top = _first(query, "top")
        limit = paging.page_size
        if top is not None and _INT.match(top) and abs(int(top)) <= _INT32_MAX:
            limit = int(top)
        if limit <= 0:  # the provider's TableQuery.Take refuses it; the handler answers 500
            return _error(
                500,
                _SOMETHING_WENT_WRONG,
                ValueError("Take count must be positive and greater than 0."),
                "System.ArgumentException",
            )
        token = next((v for k, v in headers.items() if k.lower() == CONTINUATION_HEADER), "")
        try:
            position = _Position.parse(token) if token else _Position(None, not paging.empty_pages)
        except ValueError as err:
            return _error(500, _SOMETHING_WENT_WRONG, err, "System.FormatException")
        filters: dict[str, Any] = {
            "created_from": _time(query, "createdTimeFrom"),
            "created_to": _time(query, "createdTimeTo"),
            "statuses": _statuses(query),
            "prefix": _first(query, "instanceIdPrefix"),
        }
        store = self._engine().store
        if not position.rows and paging.empty_pages:
            first, _ = store.query_page(limit=1, start=position.next_id, **filters)
            following = _Position(first[0].instance_id, True) if first else None
            return self._page([], following, query)
        rows, next_id = store.query_page(
            limit=min(limit, paging.max_rows), start=position.next_id, **filters
        )
        following = None if next_id is None else _Position(next_id, not paging.empty_pages)
        return self._page(rows, following, query)

    @staticmethod
    def _page(
        rows: list[Instance], following: _Position | None, query: Mapping[str, Sequence[str]]
    ) -> ApiResponse:
        show_input = _flag(query, "showInput", True)
        return ApiResponse.json(
            200,
            [status_payload(i, show_input=show_input) for i in rows],
            ((CONTINUATION_HEADER, "" if following is None else following.token()),),
        )

    def _purge(self, instance_id: str) -> ApiResponse:
        """``DELETE instances/{id}``: any status, the instance alone (module docstring)."""
        if not self._engine().store.purge(instance_id):
            return ApiResponse(404)
        return ApiResponse.json(200, {"instancesDeleted": 1})

    def _purge_where(self, query: Mapping[str, Sequence[str]]) -> ApiResponse:
        """``DELETE instances/?createdTimeFrom=...``: every match at once (module docstring)."""
        created_from = _time(query, "createdTimeFrom")
        if created_from is None:
            return ApiResponse.json(400, "Please provide value for 'createdTimeFrom' parameter.")
        engine = self._engine()
        created_to = _time(query, "createdTimeTo")
        deleted = engine.store.purge_where(
            created_from=created_from,
            created_to=engine.clock.now() if created_to is None else created_to,
            statuses=_purge_statuses(query),
        )
        if deleted == 0:
            return ApiResponse(404)
        return ApiResponse.json(200, {"instancesDeleted": deleted})

    def _terminate(self, instance_id: str, reason: str | None) -> ApiResponse:
        try:
            self._engine().terminate(instance_id, reason)
        except InstanceNotFoundError:
            return ApiResponse(404)
        except InstanceGoneError:
            return ApiResponse(410)
        return ApiResponse(202)

    def _raise_event(
        self, instance_id: str, event_name: str, headers: Mapping[str, str], body: bytes
    ) -> ApiResponse:
        engine = self._engine()
        instance = engine.store.get(instance_id, with_history=False)
        if instance is None:
            return ApiResponse(404)
        if instance.status.is_terminal:
            return ApiResponse(410)
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            return _error(400, "Only application/json request content is supported")
        input_text: str | None = None
        if body.strip():
            try:
                input_text = json.dumps(json.loads(body))
            except json.JSONDecodeError as err:
                return _error(400, "Invalid JSON content", err)
        try:
            engine.raise_event(instance_id, event_name, input_text)
        except InstanceNotFoundError:
            return ApiResponse(404)
        except InstanceGoneError:
            return ApiResponse(410)
        return ApiResponse(202)

    def _restart(self, instance_id: str, new_instance_id: bool) -> ApiResponse:
        engine = self._engine()
        instance = engine.store.get(instance_id, with_history=False)
        if instance is None:
            return _error(
                400,
                "InstanceId does not match a valid orchestration instance.",
                InstanceNotFoundError(instance_id),
            )
        target = None if new_instance_id else instance.instance_id
        try:
            restarted = engine.start_orchestration(instance.name, instance.input_text, target)
        except InstanceAlreadyRunningError as err:
            return _error(500, "Something went wrong while processing your request", err)
        except UnknownFunctionError as err:
            return _error(400, "One or more of the arguments submitted is incorrect", err)
        return self.check_status_response(restarted)
