"""State shared by the worker app and the tests in devhost's own process (the tests that use it
run the app in-process): which activities entered, which orchestrators ran, and the gate that
holds ``hold`` until a test releases it. Its own module name, so the app loaded under an alias
still shares it."""

from __future__ import annotations

import threading

lock = threading.Lock()
release = threading.Event()
held: list[str] = []
episodes: list[str] = []
side_effects: list[str] = []


def reset() -> None:
    """Forget what earlier tests recorded and close the gate."""
    with lock:
        held.clear()
        episodes.clear()
        side_effects.clear()
    release.clear()
