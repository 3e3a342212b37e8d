"""The worker app (tests/devhost/worker_app) for the thread-pool, fault and client tests."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.waits import HANG_SECONDS

WORKER_APP = Path(__file__).parent / "worker_app"
if str(WORKER_APP) not in sys.path:
    sys.path.insert(0, str(WORKER_APP))

import devhost_worker_state as worker_state  # noqa: E402 - needs the worker app on sys.path

#: A spawned worker process imports the app before its first invocation: only a hang takes
#: this long.
STARTUP = HANG_SECONDS


def wait_until(predicate: Callable[[], bool], timeout: float = HANG_SECONDS) -> None:
    """Poll ``predicate`` until it holds (bounded by a hang, never a statement about speed)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


__all__ = ["HANG_SECONDS", "STARTUP", "WORKER_APP", "wait_until", "worker_state"]
