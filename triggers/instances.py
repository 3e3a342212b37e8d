"""Reading the task hub the way the host serves it: a page at a time.

The Durable extension answers an instance query with at most one page (``top``, 100 by default)
and an ``x-ms-continuation-token`` header naming the next one
(azure-functions-durable-extension ``HttpApiHandler.cs``, ``HandleGetStatusRequestAsync``;
``OrchestrationStatusQueryCondition.PageSize``: "Requests may return fewer records than the
specified page size, even if there are more records"); on Azure Storage a page may hold no rows
and still carry a token. The SDK's ``get_status_by`` and ``get_status_all`` read the first page
only (azure-functions-durable 1.7, ``DurableOrchestrationClient.get_status_by``: one
``_get_async_request``, no token; Azure/azure-functions-durable-python#580 and #477). The app
avoids instance queries where a known instance id serves (shards, the schedule, cancel, a run's
retries); where it needs one (the running servers of a run, for progress; the list of runs) it
reads the pages here.

The filters are the handler's query parameters: ``instanceIdPrefix`` (on Azure Storage a range
of partition keys), ``createdTimeFrom`` / ``createdTimeTo`` (created at or after / at or before:
``GreaterThanOrEqual`` / ``LessThanOrEqual`` in DurableTask.AzureStorage
``OrchestrationInstanceStatusQueryCondition``), ``runtimeStatus`` (comma-separated) and
``showInput``. Rows come in instance id order on Azure Storage (the Instances table is keyed by
instance id), never by time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

import azure.durable_functions as df
import requests
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

CONTINUATION: Final = "x-ms-continuation-token"
PAGE_SIZE: Final = 100
#: At most this many pages per query (20,000 rows at full pages; empty pages count too).
MAX_PAGES: Final = 400
TIMEOUT_SECONDS: Final = 30.0


class QueryFailed(Exception):
    """The host did not answer an instance query with a page."""


def _rpc_base_url(client: df.DurableOrchestrationClient) -> str:
    # The client binding's rpcBaseUrl (the host's local webhook for the out-of-process SDK); the
    # SDK keeps it on a private attribute and offers no paged query of its own.
    bindings = getattr(client, "_orchestration_bindings", None)
    base = getattr(bindings, "rpc_base_url", None)
    if not isinstance(base, str) or not base:
        raise QueryFailed("the durable client binding has no rpcBaseUrl")
    return base


def _page(url: str, token: str | None) -> tuple[list[Any], str | None]:
    headers = {CONTINUATION: token} if token else {}
    answer = requests.get(url, headers=headers, timeout=TIMEOUT_SECONDS)
    if answer.status_code != 200:
        raise QueryFailed(f"instance query answered {answer.status_code}")
    rows = answer.json()
    if not isinstance(rows, list):
        raise QueryFailed("instance query did not answer a list")
    following = answer.headers.get(CONTINUATION)
    return rows, following if following and following.lower() != "null" else None


def _query_time(value: datetime) -> str:
    """A time as the handler's ``DateTime.TryParse`` reads it: ISO 8601, UTC, with a ``Z``."""
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


async def query_pages(
    client: df.DurableOrchestrationClient,
    *,
    prefix: str | None = None,
    statuses: Sequence[OrchestrationRuntimeStatus] = (),
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    show_input: bool = False,
    page_size: int = PAGE_SIZE,
    max_pages: int = MAX_PAGES,
) -> AsyncIterator[list[dict[str, Any]]]:
    """The raw status rows of every instance matching the filters, a page at a time (a page may
    be empty and still not the last).

    Raises:
        QueryFailed: the host refused a page, or the pages did not end within ``max_pages``.
    """
    query = {"top": str(page_size), "showInput": "true" if show_input else "false"}
    if prefix:
        query["instanceIdPrefix"] = prefix
    if statuses:
        query["runtimeStatus"] = ",".join(s.value for s in statuses)
    if created_from is not None:
        query["createdTimeFrom"] = _query_time(created_from)
    if created_to is not None:
        query["createdTimeTo"] = _query_time(created_to)
    url = f"{_rpc_base_url(client)}instances/?{urlencode(query)}"
    token: str | None = None
    for _ in range(max_pages):
        rows, token = await asyncio.to_thread(_page, url, token)
        yield [row for row in rows if isinstance(row, dict)]
        if token is None:
            return
    raise QueryFailed(f"instance query {query} did not end within {max_pages} pages")


async def query_instances(
    client: df.DurableOrchestrationClient,
    *,
    prefix: str,
    statuses: Sequence[OrchestrationRuntimeStatus] = (),
    page_size: int = PAGE_SIZE,
) -> list[DurableOrchestrationStatus]:
    """Every instance whose id starts with ``prefix`` (and in one of ``statuses``), all pages.

    Raises:
        QueryFailed: the host refused a page, or the pages did not end within ``MAX_PAGES``.
    """
    found: list[DurableOrchestrationStatus] = []
    async for rows in query_pages(client, prefix=prefix, statuses=statuses, page_size=page_size):
        found.extend(DurableOrchestrationStatus.from_json(row) for row in rows)
    return found
