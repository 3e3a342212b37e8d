"""Determinism guard (the strict one): the orchestrators, replayed over histories recorded in a
soak, schedule exactly what the histories record.

A deployed app replays in-flight orchestrations with the new code. This guard flags any change
to what they schedule (another activity, other inputs, other timers, another order), so every
such change is deliberate; whether it breaks runs in flight on the real host (which compares
kinds and names only) is ``test_release_compatibility.py``'s question, on the previous
release's histories. Each fixture in ``histories/`` is one orchestration's
history from ``python -m soak --record-histories``; it is replayed through the SDK's own
``Orchestrator`` handling and devhost's host-side replay (sequence ids, DTFx's determinism
check), and every action must equal the recorded one, down to inputs and timer due times. A
deliberate change re-records the fixtures (see ``soak/histories.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.replaying import orchestrate, produced, recorded
from workflow import names

HISTORIES = Path(__file__).parent / "histories"
FIXTURES = sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def replay(fixture: dict[str, Any]) -> tuple[Any, list[Any]]:
    history = fixture["history"]
    state = orchestrate(
        fixture["orchestrator"],
        history,
        instance_id=fixture["instanceId"],
        parent_instance_id=fixture["parentInstanceId"],
    )
    actions, outcome = produced(state, history)
    assert not outcome.new_work, "the replay scheduled work the history does not record"
    return state, actions


def test_every_orchestrator_has_recorded_histories() -> None:
    kinds = {load(path)["orchestrator"] for path in FIXTURES}
    assert kinds == set(names.ORCHESTRATORS)
    assert len(FIXTURES) >= 5


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_replay_schedules_exactly_what_the_history_records(path: Path) -> None:
    fixture = load(path)
    state, actions = replay(fixture)
    assert actions == recorded(fixture["history"]), (
        f"{path.name}: the orchestrator no longer schedules what this recorded run did; "
        "in-flight runs would replay differently. If the change is deliberate, record again: "
        "python -m soak --record-histories tests/reliability/histories"
    )
    assert state.error is None
    assert state.is_done and fixture["status"] == "Completed"
    assert state.output == fixture["output"]
    assert state.custom_status == fixture["customStatus"]


@pytest.mark.parametrize(
    ("orchestrator", "target", "mutation"),
    [
        # a timer a second later: every wait of a server, every deadline a shard hands out
        ("export_server", "orchestrators.server.after", "later"),
        ("export_shard", "orchestrators.server.after", "later"),
        ("export_batch", "orchestrators.server.after", "later"),
        # one fewer server probed
        ("export_fleet", "orchestrators.fleet.probe_indices", "fewer"),
    ],
)
def test_the_guard_catches_a_non_deterministic_change(
    orchestrator: str, target: str, mutation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module_name, attribute = target.rsplit(".", 1)
    module = __import__(module_name, fromlist=[attribute])
    original = getattr(module, attribute)
    if mutation == "later":
        monkeypatch.setattr(module, attribute, lambda now, seconds: original(now, seconds + 1))
    else:
        monkeypatch.setattr(module, attribute, lambda plan, budget: original(plan, budget)[:-1])
    caught = 0
    for path in FIXTURES:
        fixture = load(path)
        if fixture["orchestrator"] != orchestrator:
            continue
        try:
            _, actions = replay(fixture)
        except Exception:  # noqa: BLE001 - devhost's own check refusing the replay also counts
            caught += 1
            continue
        caught += actions != recorded(fixture["history"])
    assert caught >= 1
