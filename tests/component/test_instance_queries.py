"""The app's paged instance query against a host that pages (and one that fails), on loopback."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import azure.durable_functions as df
import pytest

from triggers.instances import CONTINUATION, QueryFailed, query_instances

#: Three pages as Azure Storage may give them: an empty page with a token, then two with rows.
PAGES: dict[str, tuple[list[str], str]] = {
    "": ([], "t1"),
    "t1": (["run:srv:a", "run:srv:b"], "t2"),
    "t2": (["run:srv:c"], ""),
}


class _Host(BaseHTTPRequestHandler):
    fail = False
    seen: list[str] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        token = self.headers.get(CONTINUATION, "")
        type(self).seen.append(self.path)
        if type(self).fail:
            self.send_response(500)
            self.end_headers()
            return
        ids, following = PAGES[token]
        body = json.dumps(
            [{"instanceId": i, "runtimeStatus": "Running", "customStatus": {"id": i}} for i in ids]
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header(CONTINUATION, following)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def host() -> Iterator[tuple[df.DurableOrchestrationClient, type[_Host]]]:
    handler = type("Host", (_Host,), {"fail": False, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/durabletask/"
    binding = {"taskHubName": "hub", "creationUrls": {}, "managementUrls": {}, "rpcBaseUrl": base}
    try:
        yield df.DurableOrchestrationClient(json.dumps(binding)), handler
    finally:
        server.shutdown()
        server.server_close()


def test_every_page_is_read_across_an_empty_one(
    host: tuple[df.DurableOrchestrationClient, type[_Host]],
) -> None:
    client, handler = host
    found = asyncio.run(query_instances(client, prefix="run:srv:"))
    assert [s.instance_id for s in found] == ["run:srv:a", "run:srv:b", "run:srv:c"]
    assert len(handler.seen) == 3
    assert all(
        "instanceIdPrefix=run%3Asrv%3A" in path and "top=100" in path for path in handler.seen
    )


def test_a_refused_page_is_a_query_failure(
    host: tuple[df.DurableOrchestrationClient, type[_Host]],
) -> None:
    client, handler = host
    handler.fail = True
    with pytest.raises(QueryFailed, match="answered 500"):
        asyncio.run(query_instances(client, prefix="run:srv:"))
