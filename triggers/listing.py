"""``GET /api/exports``: the app's runs, newest first, a page at a time.

A run is an instance whose id has the shape of a run id (``workflow.instance_ids.is_run_id``:
``exp-…`` from HTTP and retries, ``sched-…`` from the schedule); its shards, batches, servers
and target (``{runId}:…``) and the schedule's own instance are not runs. The task hub offers
no query for "runs only, newest first": the host filters by id prefix, creation time and
runtime status, and pages in its own order (instance id on Azure Storage), so a run and its
children come back together and time order is the app's to make. The app therefore reads the
task hub backwards in time, in slices:

* the first slice reaches back an hour from the cursor, or from now (upwards it is bounded by
  the cursor or ``createdTimeTo`` only, so runs stamped by a host clock ahead of the app's are
  not lost); each further slice is ``GROWTH`` times as long as the one before, until the slices
  hold more runs than the page takes, reach ``createdTimeFrom`` (or 1970), or a slice holds no
  instance at all and nothing older exists (one probe query);
* each slice is read to its last page (``triggers.instances.query_pages``: tokens followed,
  empty pages included), its runs sorted newest first by ``(createdTime, runId)``;
* one request reads at most ``SCAN_BUDGET`` rows of the task hub. When a slice would take more,
  the page ends before it, with a continuation token that resumes there with a narrower slice.
  So a page may hold fewer runs than ``top``, even none, and still carry a token, exactly as
  the host's own pages may: a caller follows the token until there is none.

What a request costs: at most ``SCAN_BUDGET`` rows over the wire, and one host query per slice
(plus a probe after an empty one), a number that grows with the logarithm of the time the page
spans. On Azure Storage a creation-time filter is not indexed (the Instances table is keyed by
instance id), so each query is a scan of that table on the storage side; that is why a slice
grows four-fold rather than two-fold: fewer queries, at the price of reading up to four times
the rows the page needed (within the budget).

The continuation token is the app's own (``Cursor``: the last run given and the slice width to
start with, base64url JSON), given as the ``continuationToken`` query parameter and answered in
the body with a ``nextLink`` holding it (Logic Apps' ``x-ms-pageable`` follows ``nextLink``). The
host's ``x-ms-continuation-token`` cannot serve: it names a position in the host's id order, not
in time. Times are compared as the host shows them (``CreatedTime.ToString("s") + "Z"``: whole
seconds, ``HttpApiHandler.ConvertFrom``), so runs of the same second are ordered by id.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import azure.durable_functions as df
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from mysqlexport.armspec import EXPORT
from mysqlexport.errors import InvalidRequest
from triggers.instances import query_pages
from triggers.responses import utc_time
from workflow.instance_ids import is_run_id

logger = logging.getLogger(__name__)

DEFAULT_TOP: Final = 20
MAX_TOP: Final = 100
#: Rows of the task hub read per request at most (any instance: runs and their children).
SCAN_BUDGET: Final = 10_000
#: The host's page size for the scan (Azure Tables answers at most 1,000 rows at a time).
SCAN_PAGE_SIZE: Final = 500
FIRST_SLICE_SECONDS: Final = 3600.0
MIN_SLICE_SECONDS: Final = 1.0
#: How much longer each slice is than the one before.
GROWTH: Final = 4.0
#: Slices per request at most (from an hour, growing four-fold, 12 reach back past 1970).
MAX_SLICES: Final = 40
#: Widening of each slice's bounds in the host's query: the host filters on the full creation
#: time, the rows show it in whole seconds; the app then keeps the rows of the slice exactly.
MARGIN: Final = timedelta(seconds=2)
#: The runtime statuses a run can be listed by (the SDK's names, which the host takes).
STATUSES: Final = {status.value: status for status in OrchestrationRuntimeStatus}
#: No instance of a task hub was created before this: the slices end here at the latest.
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: Past this a bound is left out of the host's query (it could not be widened by ``MARGIN``).
LATEST: Final = datetime(9999, 12, 31, tzinfo=UTC)
#: RFC 3339 ``date-time`` (what ``format: date-time`` means in the API's document).
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_TOP = re.compile(r"[0-9]{1,9}", re.ASCII)
NEXT_PAGE_PARAMETER: Final = "continuationToken"


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: runs older than ``(created, run_id)`` (``created`` None: from
    the newest), read first in a slice of ``width`` seconds."""

    created: datetime | None
    run_id: str
    width: float

    def encode(self) -> str:
        """The continuation token: base64url of a small JSON document."""
        document = {
            "t": None if self.created is None else utc_time(self.created),
            "id": self.run_id,
            "w": self.width,
        }
        raw = json.dumps(document, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Inverse of ``encode``. Raises ValueError for anything this API did not give."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            document = json.loads(raw)
        except (binascii.Error, ValueError) as err:
            raise ValueError("not a token this API gave") from err
        if not isinstance(document, dict) or set(document) != {"t", "id", "w"}:
            raise ValueError("not a token this API gave")
        created, run_id, width = document["t"], document["id"], document["w"]
        if not (run_id == "" or is_run_id(run_id)) or isinstance(width, bool):
            raise ValueError("not a token this API gave")
        if not isinstance(width, int | float) or not MIN_SLICE_SECONDS <= width <= 1e12:
            raise ValueError("not a token this API gave")
        if created is None:
            return cls(None, run_id, float(width))
        if not isinstance(created, str):
            raise ValueError("not a token this API gave")
        return cls(parse_time(created), run_id, float(width))


@dataclass(frozen=True)
class RunQuery:
    """What ``GET /api/exports`` was asked for."""

    statuses: frozenset[OrchestrationRuntimeStatus]
    created_from: datetime | None
    created_to: datetime | None
    top: int
    cursor: Cursor | None


def parse_time(text: str) -> datetime:
    """An RFC 3339 date-time, timezone-aware in UTC. Raises ValueError."""
    if _DATE_TIME.fullmatch(text) is None:
        raise ValueError("is not an RFC 3339 date-time")
    value = text.upper().replace("Z", "+00:00")
    head, dot, tail = value.partition(".")
    if dot:  # at most six fractional digits for fromisoformat (the host writes seven)
        digits = tail[:-6]
        value = f"{head}.{(digits + '000000')[:6]}{tail[-6:]}"
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except OverflowError as err:  # 0001-01-01T00:00:00+01:00 is before the year 1 in UTC
        raise ValueError("is out of range") from err


def _statuses(raw: str | None, problems: dict[str, str]) -> frozenset[OrchestrationRuntimeStatus]:
    statuses: set[OrchestrationRuntimeStatus] = set()
    for name in raw.split(",") if raw is not None else ():
        if name in STATUSES:
            statuses.add(STATUSES[name])
        else:
            problems["runtimeStatus"] = f"each must be one of {', '.join(STATUSES)}"
    return frozenset(statuses)


def _time(params: Mapping[str, str], name: str, problems: dict[str, str]) -> datetime | None:
    text = params.get(name)
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError:
        problems[name] = "must be an ISO 8601 date-time with a zone (2026-11-29T04:07:22Z)"
        return None


def _top(raw: str | None, problems: dict[str, str]) -> int:
    if raw is None:
        return DEFAULT_TOP
    if _TOP.fullmatch(raw) and 1 <= int(raw) <= MAX_TOP:
        return int(raw)
    problems["top"] = f"must be a whole number from 1 to {MAX_TOP}"
    return DEFAULT_TOP


def parse_run_query(params: Mapping[str, str]) -> RunQuery:
    """The query parameters of ``GET /api/exports``; ``InvalidRequest`` naming each bad one.
    Parameters the route does not take (``code``, the function key, among them) are ignored."""
    problems: dict[str, str] = {}
    statuses = _statuses(params.get("runtimeStatus"), problems)
    created_from = _time(params, "createdTimeFrom", problems)
    created_to = _time(params, "createdTimeTo", problems)
    if created_from and created_to and created_from > created_to:
        problems["createdTimeTo"] = "must not be before createdTimeFrom"
    top = _top(params.get("top"), problems)
    cursor = None
    token = params.get(NEXT_PAGE_PARAMETER)
    if token is not None:
        try:
            cursor = Cursor.decode(token)
        except ValueError:
            problems[NEXT_PAGE_PARAMETER] = "is not a continuation token this API gave"
    if problems:
        raise InvalidRequest(problems)
    return RunQuery(statuses, created_from, created_to, top, cursor)


@dataclass(frozen=True)
class _Found:
    created: datetime
    run_id: str
    row: dict[str, Any]

    @property
    def key(self) -> tuple[datetime, str]:
        return (self.created, self.run_id)


@dataclass(frozen=True)
class _Slice:
    """Runs created in ``[low, high)`` (``high`` None: the first slice, bounded above by the
    query and the cursor only)."""

    low: datetime
    high: datetime | None


def _earliest(*times: datetime | None) -> datetime | None:
    given = [t for t in times if t is not None]
    return min(given) if given else None


class _Scan:
    """One request's reading of the task hub: the query, the rows read so far."""

    def __init__(self, client: df.DurableOrchestrationClient, query: RunQuery) -> None:
        self.client = client
        self.query = query
        self.statuses = sorted(query.statuses, key=lambda s: s.value)
        self.spent = 0
        cursor = query.cursor
        self.ceiling: tuple[datetime, str] | None = None
        if cursor is not None and cursor.created is not None:
            self.ceiling = (cursor.created, cursor.run_id)
        #: The latest creation time a run of this page can have.
        self.upper = _earliest(query.created_to, self.ceiling[0] if self.ceiling else None)

    def keeps(self, found: _Found, piece: _Slice) -> bool:
        """Whether ``found`` belongs to ``piece`` and to the query."""
        query = self.query
        if found.created < piece.low or (piece.high is not None and found.created >= piece.high):
            return False
        if query.created_from is not None and found.created < query.created_from:
            return False
        if query.created_to is not None and found.created > query.created_to:
            return False
        if self.statuses and found.row.get("runtimeStatus") not in {s.value for s in self.statuses}:
            return False
        return self.ceiling is None or found.key < self.ceiling

    async def read(self, piece: _Slice, budget: int | None) -> tuple[list[_Found], int] | None:
        """The runs of ``piece`` and how many rows of any instance the host gave for it; None
        when reading it costs more than ``budget`` (what was read of it is dropped)."""
        high = _earliest(piece.high, self.upper)
        runs: list[_Found] = []
        rows = cost = 0
        async for page in query_pages(
            self.client,
            statuses=self.statuses,
            created_from=piece.low - MARGIN,
            created_to=None if high is None or high > LATEST else high + MARGIN,
            page_size=SCAN_PAGE_SIZE,
        ):
            rows += len(page)
            cost += len(page) + 1  # an empty page costs a round trip too
            self.spent += len(page) + 1
            for row in page:
                found = _run(row)
                if found is not None and self.keeps(found, piece):
                    runs.append(found)
            if budget is not None and cost > budget:
                return None
        return runs, rows

    async def anything_older(self, before: datetime) -> bool:
        """Whether any instance (of the statuses asked for) was created before ``before``."""
        async for page in query_pages(
            self.client,
            statuses=self.statuses,
            created_from=max(self.query.created_from or EPOCH, EPOCH),
            created_to=before,
            page_size=1,
        ):
            self.spent += len(page) + 1
            if page:
                return True
        return False


def _run(row: Mapping[str, Any]) -> _Found | None:
    run_id = row.get("instanceId")
    created = row.get("createdTime")
    if not is_run_id(run_id) or not isinstance(created, str):
        return None
    try:
        when = parse_time(created)
    except ValueError:
        logger.warning("run %s has a creation time the app cannot read: %r", run_id, created)
        return None
    return _Found(when, str(run_id), dict(row))


async def find_runs(
    client: df.DurableOrchestrationClient,
    query: RunQuery,
    now: datetime,
    *,
    budget: int = SCAN_BUDGET,
) -> tuple[list[dict[str, Any]], Cursor | None]:
    """The status rows of the page's runs, newest first, and where the next page starts (None
    after the last). ``now`` anchors the first slice; ``budget`` bounds the rows read.

    Raises:
        QueryFailed: the host did not answer a page.
    """
    scan = _Scan(client, query)
    floor = EPOCH if query.created_from is None else max(query.created_from, EPOCH)
    found: list[_Found] = []
    width = query.cursor.width if query.cursor else FIRST_SLICE_SECONDS
    high: datetime | None = None  # the top of the slice (exclusive); None for the first
    anchor = now if scan.upper is None else min(scan.upper, now)
    for _ in range(MAX_SLICES):
        span = (anchor - floor).total_seconds()
        last = width >= span
        piece = _Slice(floor if last else anchor - timedelta(seconds=width), high)
        narrowest = width <= MIN_SLICE_SECONDS
        fresh = scan.spent == 0
        answer = await scan.read(piece, None if narrowest else max(0, budget - scan.spent))
        if answer is None:  # more rows than this request may read: resume at this slice
            # narrower when the slice alone held too many rows, as wide when the budget had
            # gone on the slices before it
            resume_width = max(MIN_SLICE_SECONDS, width / 4) if fresh else width
            return _rows(found), _resume(query.cursor, high, resume_width)
        runs, rows = answer
        found.extend(runs)
        if len(found) > query.top or last:
            break
        if rows == 0 and not await scan.anything_older(piece.low):
            break
        high = anchor = piece.low
        width *= GROWTH
        if scan.spent >= budget:
            return _rows(found), Cursor(high, "", width)
    else:
        return _rows(found), Cursor(high, "", width)
    page = sorted(found, key=lambda f: f.key, reverse=True)[: query.top]
    if len(found) <= query.top:
        return _rows(page), None
    return _rows(page), Cursor(page[-1].created, page[-1].run_id, width)


def _resume(cursor: Cursor | None, high: datetime | None, width: float) -> Cursor:
    """Where to start again at the top of the slice that was not read."""
    if high is not None:
        return Cursor(high, "", width)
    if cursor is None:
        return Cursor(None, "", width)
    return Cursor(cursor.created, cursor.run_id, width)


def _rows(found: Sequence[_Found]) -> list[dict[str, Any]]:
    return [f.row for f in sorted(found, key=lambda f: f.key, reverse=True)]


async def describe_runs(
    client: df.DurableOrchestrationClient, rows: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """What the list says of each run: never its input, target or servers.

    A finished run's report says which operation it ran, and whether it was a dry run or a
    retry; for a run without a report (running, failed, terminated) they come from its input,
    read by its id (one read per such run of the page, at once).
    """
    reports = [_report(row) for row in rows]
    unreported = [str(row["instanceId"]) for row, rep in zip(rows, reports, strict=True) if not rep]
    read = dict(
        zip(
            unreported,
            await asyncio.gather(*(_facts_from_input(client, i) for i in unreported)),
            strict=True,
        )
    )
    described = []
    for row, rep in zip(rows, reports, strict=True):
        facts = _facts_from_report(rep) if rep else read[str(row["instanceId"])]
        described.append(
            {
                "runId": row["instanceId"],
                "runtimeStatus": row.get("runtimeStatus"),
                "createdTime": utc_time(row.get("createdTime")),
                "lastUpdatedTime": utc_time(row.get("lastUpdatedTime")),
                "operation": facts["operation"],
                "dryRun": facts["dryRun"],
                "retryOf": facts["retryOf"],
                "summary": rep["summary"] if rep else None,
            }
        )
    return described


def _report(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """A finished run's report (its output), None for any other output."""
    output = row.get("output")
    if isinstance(output, dict) and isinstance(output.get("summary"), dict):
        return output
    return None


def _facts_from_report(report: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "operation": report["summary"].get("operation") or EXPORT,
        "dryRun": bool(report.get("dryRun")),
        "retryOf": report.get("retryOf"),
    }


async def _facts_from_input(client: df.DurableOrchestrationClient, run_id: str) -> dict[str, Any]:
    status = await client.get_status(run_id, show_input=True)
    job = getattr(status, "input_", None)
    if isinstance(job, str):
        try:
            job = json.loads(job)
        except ValueError:
            job = None
    if not isinstance(job, dict) or not isinstance(job.get("request"), dict):
        return {"operation": None, "dryRun": None, "retryOf": None}
    request = job["request"]
    return {
        "operation": request.get("operation") or EXPORT,
        "dryRun": bool(request.get("dryRun")),
        "retryOf": job.get("retryOf"),
    }
