"""The app redacts its own log records wherever it runs: importing ``function_app`` is enough.

On Azure the Python worker puts its gRPC log handler on the root logger, then indexes
``function_app.py`` (azure-functions-python-worker ``dispatcher.py``: ``dispatch_forever`` adds
``AsyncLoggingHandler`` before any function metadata request loads the app); Application
Insights may add a handler later. Nothing but the app's own import runs in between, so the test
does the same in a fresh process (where no other test has installed anything): a handler before,
``devhost.indexing.load_app`` as devhost and the worker index the app, a handler after, then
records from the app's module loggers, from a logger made later, and from urllib3 and requests
doing a real request, each with a SAS and a bearer token in the message, in an argument and in
an exception.
"""

from __future__ import annotations

import http.server
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import requests

from tests.waits import HANG_SECONDS

ROOT = Path(__file__).resolve().parents[2]
SIG = "c2VjcmV0LXNpZ25hdHVyZS1vZi10aGUtc2Fz"
SAS = f"https://acct.blob.core.windows.net/backups?sv=2022-11-02&sr=c&sp=rcw&sig={SIG}%3D"
TOKEN = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9"
    ".eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIiwib2lkIjoiYXBwIn0"
    ".c2lnbmF0dXJlLW9mLXRoZS1iZWFyZXItdG9rZW4"
)
OPAQUE = "0paque-Bearer-t0ken~value"  # not a JWT: only the "Bearer" before it gives it away
#: The product's packages: every logger they made at import is one of the app's own.
PRODUCT = ("activities", "orchestrators", "triggers", "workflow", "mysqlexport")


class _Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def _log_everything(logger: logging.Logger) -> None:
    logger.info("submitting to %s with Authorization: Bearer %s", SAS, OPAQUE)
    logger.warning(f"the answer for {SAS} came with Bearer {TOKEN}")
    try:
        raise RuntimeError(f"boom at {SAS} (Authorization: Bearer {TOKEN})")
    except RuntimeError:
        logger.exception("failed with %s", TOKEN)


def emit_through_the_app() -> None:
    """Run in a fresh process: write every record to stdout through two root handlers."""
    from devhost.indexing import load_app  # noqa: PLC0415 - the child process's own import

    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    root.addHandler(logging.StreamHandler(sys.stdout))  # the worker's, before indexing
    load_app(ROOT)
    load_app(ROOT)  # indexed again (a second host start in one process): still one factory
    root.addHandler(logging.StreamHandler(sys.stdout))  # e.g. Application Insights, later
    names = sorted(
        name
        for name, logger in logging.Logger.manager.loggerDict.items()
        if name.split(".")[0] in PRODUCT and isinstance(logger, logging.Logger)
    )
    print("APP LOGGERS", " ".join(names))
    for name in [*names, "made.after.the.app", "azure.core.pipeline.policies.http_logging_policy"]:
        _log_everything(logging.getLogger(name))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:  # urllib3 logs the request line (the query too) at DEBUG, requests its own lines
        url = f"http://127.0.0.1:{server.server_address[1]}/export?sig={SIG}"
        requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=HANG_SECONDS)
        _log_everything(logging.getLogger("requests"))
        _log_everything(logging.getLogger("urllib3.connectionpool"))
    finally:
        server.shutdown()
        server.server_close()
    print("FACTORY", type(logging.getLogRecordFactory()).__name__)


def test_the_app_redacts_sas_and_tokens_in_every_log_record() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tests.reliability.test_log_redaction_app import emit_through_the_app\n"
            "emit_through_the_app()",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    app_loggers = next(line for line in out.splitlines() if line.startswith("APP LOGGERS")).split()
    for package in ("activities", "mysqlexport", "triggers"):
        assert any(name.startswith(f"{package}.") for name in app_loggers[2:]), package
    # nothing secret, in any record, through either handler ...
    assert SIG not in out and TOKEN not in out and OPAQUE not in out
    # ... and everything else still there: messages, arguments, tracebacks, urllib3's request
    loggers = len(app_loggers) - 2 + 4
    assert out.count("submitting to https://acct.blob.core.windows.net/backups?") == 2 * loggers
    assert out.count("sig=REDACTED") >= 2 * 3 * loggers
    assert out.count("Bearer REDACTED") >= 2 * 3 * loggers
    assert out.count("RuntimeError: boom at https://acct.blob.core.windows.net") == 2 * loggers
    assert '"GET /export?sig=REDACTED HTTP/1.1" 200' in out
    assert out.rstrip().endswith("FACTORY RedactingRecordFactory")
