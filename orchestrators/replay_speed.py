"""A faster timestamp parser for the Durable SDK's replay.

Every episode, the Python worker hands the orchestrator the whole history of the execution and
the SDK builds a ``HistoryEvent`` per event, parsing its ``Timestamp`` with
``dateutil.parser.parse`` — about 30-50 µs an event, half of what a replay costs (profiled in
docs/performance.md). The host writes those timestamps in ISO 8601
(``2026-11-27T06:00:00.1234567Z``), which ``datetime.fromisoformat`` reads in well under a
microsecond. ``install()`` swaps the parser the SDK's ``HistoryEvent`` module uses for one
that tries ``fromisoformat`` first and falls back to dateutil for anything else, so the parsed
instants are the same either way.

It is installed when the orchestrators are imported, in the Functions worker as under devhost,
unless the app setting ``FAST_HISTORY_TIMESTAMPS`` is ``false``. What it buys: orchestration CPU
per server 24.8 -> 15.6 ms (1.58x) at 1,000 servers (``make bench-ablate``, docs/performance.md).
If a future SDK no longer parses through that module global, ``install()`` does nothing.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mysqlexport.settings import switch

_MODULE = "azure.durable_functions.models.history.HistoryEvent"
#: The app setting that turns the faster parser off.
SETTING = "FAST_HISTORY_TIMESTAMPS"
logger = logging.getLogger(__name__)


def fast_parse(fallback: Callable[[str], datetime]) -> Callable[..., datetime]:
    """A drop-in for ``dateutil.parser.parse(text)`` that tries ISO 8601 first."""

    def parse(text: Any, *args: Any, **kwargs: Any) -> datetime:
        if not args and not kwargs and isinstance(text, str):
            try:
                return datetime.fromisoformat(text)
            except ValueError:
                pass
        return fallback(text, *args, **kwargs)

    parse.fallback = fallback  # type: ignore[attr-defined]
    return parse


def _sdk_module() -> Any:
    """The SDK module whose ``dt_parse`` parses history timestamps, or None without it."""
    try:
        return importlib.import_module(_MODULE)
    except ImportError:
        return None


def install() -> bool:
    """Point the SDK's history-event parser at ``fast_parse``; True when it is in place."""
    current = getattr(_sdk_module(), "dt_parse", None)
    if current is None or not callable(current):
        return False
    if getattr(current, "fallback", None) is None:
        _sdk_module().dt_parse = fast_parse(current)
    return True


def installed() -> bool:
    """True when the SDK's history events are parsed by ``fast_parse``."""
    return getattr(getattr(_sdk_module(), "dt_parse", None), "fallback", None) is not None


def uninstall() -> None:
    """Put the SDK's own parser back (``FAST_HISTORY_TIMESTAMPS=false``)."""
    module = _sdk_module()
    fallback = getattr(getattr(module, "dt_parse", None), "fallback", None)
    if fallback is not None:
        module.dt_parse = fallback


def install_from_setting() -> bool:
    """``install()`` unless ``FAST_HISTORY_TIMESTAMPS`` turns it off; True when installed.

    Read as the orchestrators are imported, where raising would fail the whole app's indexing:
    a value that is not a yes/no keeps the default (on) with a warning here, and
    ``Settings.from_env`` refuses it by name at the first request."""
    raw = os.environ.get(SETTING, "")
    try:
        wanted = switch(raw) if raw.strip() else True
    except ValueError:
        logger.warning("%s=%r is not true or false; the faster parser stays on", SETTING, raw)
        wanted = True
    if not wanted:
        uninstall()
        return False
    return install()
