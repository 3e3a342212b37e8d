"""Instance queries answer one page at a time, as the Durable extension over Azure Storage does:
``top`` (default 100), ``x-ms-continuation-token`` in and out, the empty string after the last
page, and (when asked) pages with no rows that still carry a token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure.durable_functions import DurableOrchestrationClient

from devhost import DevHost
from devhost.invoke import shared_loop
from devhost.management import CONTINUATION_HEADER, QueryPaging, paging_default
from tests.waits import HANG_SECONDS

PREFIX = "page-"
COUNT = 250


def _run(coroutine: Any) -> Any:
    return shared_loop().run(coroutine, timeout=HANG_SECONDS)


@pytest.fixture
def filled(host: DevHost) -> Iterator[DevHost]:
    """250 waiting instances named ``page-000``... and a few others the queries must skip."""
    with host.hold_clock():
        for n in range(COUNT):
            host.start_orchestration("six_hour_timer", instance_id=f"{PREFIX}{n:03d}")
        for n in range(5):
            host.start_orchestration("six_hour_timer", instance_id=f"other-{n}")
        yield host


def _pages(host: DevHost, query: str) -> list[tuple[list[str], str]]:
    """Follow continuation tokens to the end; every page's ids and the token it carried."""
    url = f"{host.endpoints.rpc_base}instances/?{query}"
    pages: list[tuple[list[str], str]] = []
    token = ""
    for _ in range(4 * COUNT):  # bounded: at most one page per instance, plus empty ones
        headers = {CONTINUATION_HEADER: token} if token else {}
        answer = requests.get(url, headers=headers, timeout=HANG_SECONDS)
        assert answer.status_code == 200, answer.text
        token = answer.headers[CONTINUATION_HEADER]
        pages.append(([item["instanceId"] for item in answer.json()], token))
        if not token:
            return pages
    raise AssertionError("the continuation tokens never ended")


def test_sdk_get_status_by_reads_only_the_first_page_of_100(filled: DevHost) -> None:
    client = DurableOrchestrationClient(filled.client_binding())
    found = _run(client.get_status_by(instance_id_prefix=PREFIX))
    assert [s.instance_id for s in found] == [f"{PREFIX}{n:03d}" for n in range(100)]
    assert len(_run(client.get_status_all())) == 100


def test_following_the_continuation_token_reaches_every_instance(filled: DevHost) -> None:
    pages = _pages(filled, f"instanceIdPrefix={PREFIX}")
    assert [len(ids) for ids, _ in pages] == [100, 100, 50]
    assert all(token for _, token in pages[:-1])
    assert pages[-1][1] == ""  # the header is there, empty, after the last page
    ids = [i for page, _ in pages for i in page]
    assert ids == [f"{PREFIX}{n:03d}" for n in range(COUNT)]


def test_top_sets_the_page_size(filled: DevHost) -> None:
    pages = _pages(filled, f"instanceIdPrefix={PREFIX}&top=40")
    assert [len(ids) for ids, _ in pages] == [40] * 6 + [10]


def test_empty_pages_with_a_token_are_followed_to_every_instance(filled: DevHost) -> None:
    with paging_default(QueryPaging(empty_pages=True)):
        client = DurableOrchestrationClient(filled.client_binding())
        assert _run(client.get_status_by(instance_id_prefix=PREFIX)) == []
        pages = _pages(filled, f"instanceIdPrefix={PREFIX}")
    assert [len(ids) for ids, _ in pages] == [0, 100, 0, 100, 0, 50]
    assert all(token for _, token in pages[:-1]) and pages[-1][1] == ""
    assert [i for page, _ in pages for i in page] == [f"{PREFIX}{n:03d}" for n in range(COUNT)]


def test_a_bad_page_size_or_token_is_the_handlers_500(filled: DevHost) -> None:
    url = f"{filled.endpoints.rpc_base}instances/"
    zero = requests.get(url, params={"top": "0"}, timeout=HANG_SECONDS)
    assert zero.status_code == 500
    assert zero.json()["ExceptionMessage"] == "Take count must be positive and greater than 0."
    forged = requests.get(url, headers={CONTINUATION_HEADER: "not a token"}, timeout=HANG_SECONDS)
    assert forged.status_code == 500
    assert forged.json()["Message"] == "Something went wrong while processing your request"
    unparsed = requests.get(url, params={"top": "ten"}, timeout=HANG_SECONDS)
    assert unparsed.status_code == 200 and len(unparsed.json()) == 100  # default page size
