"""State shared by the sample app and the tests: side-effect logs, gates and code switches.

Kept in its own uniquely named module so tests and the app see the same objects even when the
app module itself is loaded under an alias.
"""

from __future__ import annotations

import threading
from typing import Any

lock = threading.Lock()
side_effects: list[int] = []
gate = threading.Event()
gate.set()
gate_entries: list[int] = []
flaky_calls: dict[str, int] = {}
timer_ticks: list[dict[str, object]] = []
switches: dict[str, int] = {"orchestrator_version": 1}
#: The host's virtual clock, for activities that take time (set by the test).
clock: Any = None


def reset() -> None:
    """Forget everything recorded by earlier tests."""
    with lock:
        side_effects.clear()
        gate_entries.clear()
        flaky_calls.clear()
        timer_ticks.clear()
        gate.set()
        switches["orchestrator_version"] = 1
    global clock  # noqa: PLW0603 - the module is the shared state
    clock = None
