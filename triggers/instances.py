"""Reading the task hub the way the host serves it: a page at a time.

The Durable extension answers an instance query with at most one page (``top``, 100 by default)
and an ``x-ms-continuation-token`` header naming the next one
(azure-functions-durable-extension ``HttpApiHandler.cs``, ``HandleGetStatusRequestAsync``;
``OrchestrationStatusQueryCondition.PageSize``); on Azure Storage a page may hold no rows and
still carry a token. The SDK's ``get_status_by`` reads the first page only
(azure-functions-durable 1.7, ``DurableOrchestrationClient.get_status_by``). The app avoids
instance queries where a known instance id serves (shards, the schedule, cancel); where it needs
one (the running servers of a run, for progress) it reads every page here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
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
    query = {"instanceIdPrefix": prefix, "top": str(page_size)}
    if statuses:
        query["runtimeStatus"] = ",".join(s.value for s in statuses)
    url = f"{_rpc_base_url(client)}instances/?{urlencode(query)}"
    found: list[DurableOrchestrationStatus] = []
    token: str | None = None
    for _ in range(MAX_PAGES):
        rows, token = await asyncio.to_thread(_page, url, token)
        found.extend(DurableOrchestrationStatus.from_json(row) for row in rows)
        if token is None:
            return found
    raise QueryFailed(f"instance query for {prefix!r} did not end within {MAX_PAGES} pages")
