"""Every test starts and ends with the log record factory the session started with.

Importing ``function_app`` installs the app's log redaction for the whole process
(``mysqlexport.redaction.install_log_redaction``), and a test session imports it once. Without
this, every test after the first that indexes the app would run with its records redacted at
birth: a test that plants a secret in a log record to show a scanner finds it would fail or pass
by test order, and a test that scans the app's logs for secrets would see only what the
redaction left. (``tests/reliability/test_log_redaction_app.py`` proves the redaction in a
process of its own.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from devhost.azurite import Azurite, AzuriteError
from devhost.tls import TlsFiles, make_tls_files

#: The factory before any test module ran: a module- or session-scoped fixture that indexes the
#: app (devhost under test_api_properties, say) is set up before a test's own fixtures, so the
#: factory found at a test's start may already be the app's.
SESSION_FACTORY = logging.getLogRecordFactory()


@pytest.fixture(autouse=True)
def _log_record_factory_as_found() -> Iterator[None]:
    logging.setLogRecordFactory(SESSION_FACTORY)
    yield
    logging.setLogRecordFactory(SESSION_FACTORY)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """Microsoft's storage emulator on loopback (tools/azurite, devhost/azurite.py: OAuth, HTTPS,
    in memory, telemetry off). When it cannot be installed or started (no npm, the registry
    unreachable) the fixture FAILS with the reason: CI has npm, and a storage test that skips in
    silence would prove nothing."""
    server = Azurite()
    try:
        server.start()
    except AzuriteError as err:
        pytest.fail(f"Azurite (tools/azurite, devhost/azurite.py) is needed and failed: {err}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A throwaway CA and a loopback certificate (``devhost.tls``), for the emulator over TLS:
    the official SDK sends its token over https only."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))
