"""Credentials stay where they belong.

* A polling URL on a foreign host never receives the ARM token: a second listener stands in for
  that host and counts what reaches it; the server is reported Failed with ``UntrustedUrl``.
* Nothing the app persists or emits holds a SAS signature or a bearer token: the durable store
  as the host would save it (histories, inputs, outputs, custom status), every HTTP answer
  (check-status, status with history and input, progress), and every log record at DEBUG.
  The token searched for is the one the app really used (its credential's cached token).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from armemulator import Faults, ServerSpec
from devhost import HostFaults
from devhost.azurite import Azurite
from mysqlexport.arm import default_credential
from mysqlexport.settings import Settings
from soak.leaks import Finding, LogScanner, SecretScanner
from tests.e2e.conftest import SAS, SIG, SUB, StackFactory, discover_body, server_id
from tests.storage_setup import create_container
from workflow.instance_ids import target_instance_id


class Listener(ThreadingHTTPServer):
    """A host that is not ARM: answers everything like a finished operation, counts requests."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Counting)
        self.requests = 0
        self.tokens: list[str] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://localhost:{self.server_address[1]}"


class _Counting(BaseHTTPRequestHandler):
    server: Listener

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests += 1
            if self.headers.get("Authorization"):
                self.server.tokens.append(self.headers["Authorization"])
        body = json.dumps({"status": "Succeeded", "percentComplete": 100}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.parametrize("async_header", [True, False], ids=["azure-asyncoperation", "location"])
def test_a_polling_url_on_a_foreign_host_never_gets_the_token(
    make_stack: StackFactory, listener: Listener, async_header: bool
) -> None:
    stack = make_stack(async_operation_header=async_header)
    stack.emu.set_polling_base(listener.url)
    report = stack.run({"servers": [server_id("mysqltestserver")], "target": {"sasUriList": [SAS]}})
    row = report["servers"][0]
    assert row["status"] == "Failed"
    assert row["error"]["code"] == "UntrustedUrl"
    assert "refusing to send the ARM token" in row["error"]["message"]
    assert listener.url.removeprefix("http://") in row["error"]["message"]  # says where
    assert (listener.requests, listener.tokens) == (0, [])
    assert stack.emu.counters().foreign_host_requests == 0


def test_the_scanner_finds_what_it_looks_for() -> None:
    token = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJhcHAifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    scanner = SecretScanner([("sas-signature", SIG), ("bearer-token", token)])
    planted = {
        "raw": SAS,
        "encoded": SAS.replace("=", "%3D").replace("&", "%26"),
        "json": json.dumps({"uri": SAS}),
        "header": f"Authorization: Bearer {token}",
        "jwt-only": f"token={token[::-1]}.eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.YWJjZGVmZ2g",
        "other-sas": "https://x.blob.core.windows.net/c?sv=1&sig=c29tZXRoaW5nLWVsc2U",
    }
    for where, text in planted.items():
        assert scanner.scan(where, text), where
    assert not scanner.scan("clean", SAS.replace(SIG, "REDACTED").replace("%3D%3D", ""))
    logs = LogScanner(scanner)
    logger = logging.getLogger("test.planted")
    logger.addHandler(logs)
    try:
        logger.warning("submitting to %s", SAS)
        logger.warning("nothing here", extra={"target": SAS})
        logger.warning("clean")
    finally:
        logger.removeHandler(logs)
    assert logs.records == 3
    assert logs.findings[Finding("log record of test.planted", "sas-signature")] == 2


def test_nothing_persisted_or_emitted_holds_a_sas_signature_or_a_token(
    make_stack: StackFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    scanner = SecretScanner([("sas-signature", SIG)])
    logs = LogScanner(scanner)
    logging.getLogger().addHandler(logs)
    fleet = (
        *(ServerSpec(SUB, "rg", f"s{i}", export_seconds=600 * (i + 1)) for i in range(5)),
        ServerSpec(SUB, "rg", "fails", export_seconds=300, fail_export=True),
        ServerSpec(SUB, "rg", "refused", forbidden=True),
    )
    try:
        stack = make_stack(
            fleet=fleet,
            faults=Faults(error_500=0.05, error_503=0.05, connection_reset=0.05),
            host_options={"faults": HostFaults(activity_crash_after_side_effect=0.1, seed=3)},
        )
        emitted: list[tuple[str, str]] = []
        started = stack.start(discover_body(maxConcurrency=3))
        emitted.append(("start answer", started.text))
        run_id = started.json()["id"]
        progress = stack.api("GET", f"exports/{run_id}")
        emitted.append(("progress while running", progress.text))
        final = stack.follow(started.headers["Location"])
        assert final["runtimeStatus"] == "Completed"
        assert final["output"]["summary"]["succeeded"] == 5
        emitted.append(("final status", json.dumps(final)))
        emitted.append(("progress at the end", stack.api("GET", f"exports/{run_id}").text))
        everything = stack.session.get(
            started.headers["Location"] + "&showHistory=true&showHistoryOutput=true&showInput=true",
            timeout=30,
        )
        emitted.append(("status with history and input", everything.text))
        target = stack.session.get(
            started.headers["Location"].replace(run_id, target_instance_id(run_id))
            + "&showHistory=true&showInput=true",
            timeout=30,
        )
        emitted.append(("the run's target with history and input", target.text))
        assert "sealed:v1:" in target.text  # the target is kept once per run, sealed
        assert "sealed:v1:" not in everything.text  # and the run's own input has no copy
        stack.host.store.save(tmp_path / "store.json")
        emitted.append(("durable store", (tmp_path / "store.json").read_text()))
    finally:
        logging.getLogger().removeHandler(logs)
    token = default_credential().get_token(Settings.from_env().arm_scope).token
    assert token.count(".") == 2 and stack.emu.counters().tokens_issued >= 1
    scanner.add("bearer-token", token)
    assert '"customStatus"' in emitted[-1][1] and '"history"' in emitted[-1][1]
    findings = [f for where, text in emitted for f in scanner.scan(where, text)]
    findings += [f for r in caplog.records for f in scanner.scan(r.name, _record_text(r))]
    assert logs.records > 100 and not logs.findings
    assert findings == []


def _record_text(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), record.exc_text or "", str(record.__dict__)]
    return "\n".join(parts)


def test_no_sas_minted_per_export_is_persisted_or_emitted(
    make_stack: StackFactory, azurite: Azurite, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A ``target.containers`` run under faults (submissions retried, activities crashed after
    their side effect): the signatures of the SAS the app minted, read from Azurite's access log
    (the service wrote the backups through them), are in no answer, history, store or log."""
    caplog.set_level(logging.DEBUG)
    container = create_container(azurite)
    offset = len(azurite.log_path.read_text(encoding="utf-8", errors="replace"))
    stack = make_stack(
        settings={"REQUESTS_CA_BUNDLE": str(azurite.ca_bundle)},
        fleet=tuple(ServerSpec(SUB, "rg", f"s{i}", export_seconds=600) for i in range(4)),
        faults=Faults(error_503=0.1, connection_reset=0.05),
        host_options={"faults": HostFaults(activity_crash_after_side_effect=0.1, seed=3)},
    )
    body = {"discover": {"subscriptions": [SUB]}, "target": {"containers": [container]}}
    started = stack.start(body)
    run_id = started.json()["id"]
    final = stack.follow(started.headers["Location"])
    assert final["output"]["summary"]["succeeded"] == 4
    emitted = [("start answer", started.text), ("final status", json.dumps(final))]
    for instance in (run_id, target_instance_id(run_id)):
        answer = stack.session.get(
            started.headers["Location"].replace(run_id, instance)
            + "&showHistory=true&showHistoryOutput=true&showInput=true",
            timeout=30,
        )
        emitted.append((f"{instance} with history and input", answer.text))
    assert container in emitted[-1][1]  # the target is kept as given: the URL, no SAS
    stack.host.store.save(tmp_path / "store.json")
    emitted.append(("durable store", (tmp_path / "store.json").read_text()))
    log = azurite.log_path.read_text(encoding="utf-8", errors="replace")[offset:]
    signatures = {
        parse_qs(urlsplit(line.split('"')[1].split()[1]).query)["sig"][0]
        for line in log.splitlines()
        if "&skoid=" in line and "&sig=" in line
    }
    assert signatures  # the service wrote through SAS the app minted
    scanner = SecretScanner([(f"minted-sas-{i}", sig) for i, sig in enumerate(signatures)])
    findings = [f for where, text in emitted for f in scanner.scan(where, text)]
    findings += [f for r in caplog.records for f in scanner.scan(r.name, _record_text(r))]
    assert findings == []
