"""Fixtures for the devhost tests: the sample app on a virtual clock."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SAMPLE_APP = Path(__file__).parent / "sample_app"
os.environ.setdefault("SAMPLE_TICK_SCHEDULE", "0 0 * * * *")
if str(SAMPLE_APP) not in sys.path:
    sys.path.insert(0, str(SAMPLE_APP))

import devhost_sample_state as sample_state  # noqa: E402 - needs the sample app on sys.path

from devhost import Clock, DevHost, HostFaults, Store, VirtualClock  # noqa: E402

#: 2025-01-01T00:00:00Z, a fixed start so timestamps in assertions are predictable.
START = 1_735_689_600.0


@pytest.fixture(autouse=True)
def _reset_sample_state() -> Iterator[None]:
    sample_state.reset()
    yield
    sample_state.gate.set()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def host(clock: VirtualClock) -> Iterator[DevHost]:
    with DevHost(SAMPLE_APP, clock=clock) as running:
        yield running


def make_host(
    clock: Clock | None = None,
    *,
    faults: HostFaults | None = None,
    store: Store | None = None,
    function_key: str | None = None,
) -> DevHost:
    """A started host on the sample app (caller stops it)."""
    return DevHost(
        SAMPLE_APP,
        clock=clock or VirtualClock(START),
        faults=faults,
        store=store,
        function_key=function_key,
    ).start()
