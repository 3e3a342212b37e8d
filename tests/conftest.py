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

#: The factory before any test module ran: a module- or session-scoped fixture that indexes the
#: app (devhost under test_api_properties, say) is set up before a test's own fixtures, so the
#: factory found at a test's start may already be the app's.
SESSION_FACTORY = logging.getLogRecordFactory()


@pytest.fixture(autouse=True)
def _log_record_factory_as_found() -> Iterator[None]:
    logging.setLogRecordFactory(SESSION_FACTORY)
    yield
    logging.setLogRecordFactory(SESSION_FACTORY)
