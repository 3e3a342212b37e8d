"""Release compatibility: the previous release's histories replay on the current code as the real
host judges a replay.

``test_determinism`` is the strict guard: every action down to its inputs and timer due times,
so any change re-records its fixtures. That is not what breaks an in-flight run. The Durable
extension replays an out-of-process orchestrator's actions through DTFx
(azure-functions-durable-extension ``Listener/OutOfProcOrchestrationShim.cs``: each action
becomes ``CallActivityAsync`` / ``CreateTimer`` / ``CallSubOrchestratorAsync`` on the DTFx
context, ``DurableOrchestrationContext.CallDurableTaskFunctionAsync`` -> ``InnerContext``), and
DTFx checks each recorded scheduling event against the action the replay gave the same sequence
id (DurableTask.Core ``TaskOrchestrationContext.cs``, v2.17.1, the version the extension's
csproj pins; unchanged at the current head):

- ``HandleTaskScheduledEvent``: an action with that id exists, ``is ScheduleTaskOrchestratorAction``
  and ``string.Equals(scheduledEvent.Name, currentReplayAction.Name,
  StringComparison.OrdinalIgnoreCase)``; neither version nor input is compared.
- ``HandleTimerCreatedEvent``: the action exists and ``is CreateTimerOrchestratorAction``; the
  due time (``FireAt``) is not compared.
- ``HandleSubOrchestrationCreatedEvent``: exists, ``is CreateSubOrchestrationAction``, and the
  name as for activities; the instance id and input only appear in the message.

Any other mismatch throws ``NonDeterministicOrchestrationException``. Actions the replay produced
with ids the history does not record stay in ``orchestratorActionsMap`` and are returned as the
episode's new work (``TaskOrchestrationExecutor.cs``: ``Actions = this.context.OrchestratorActions``).

So each history in ``histories-previous-release/`` (the fixtures the previous release recorded)
is replayed through the SDK and devhost's host-side replay (``devhost.shim.ActionReplayer``,
whose ``_check_recorded`` makes DTFx's checks; its extra check of explicit sub-orchestration
instance ids is left out here, as DTFx does not make it), whole and cut after several of its
completions (a run in flight at the deploy). It must raise no non-determinism error and no
orchestrator error, its actions must match the recorded ones by kind and name (timers by kind)
for as long as the history goes, and whatever comes after is new work. If this fails, the
release breaks in-flight runs: bump the hub and drain or deploy side by side (README,
"Upgrading").
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from devhost.protocol import EventType, HistoryEvent, completion_id, event_type
from devhost.shim import NonDeterminismError
from tests.reliability.replaying import Produced, orchestrate, produced, recorded
from workflow import names

PREVIOUS = Path(__file__).parent / "histories-previous-release"
FIXTURES = sorted(PREVIOUS.glob("*.json"))
#: How many in-flight cuts of each history are replayed (evenly spread, first and last included).
CUTS = 6

#: The work the current code appends after the last action a previous-release history records:
#: new work for the host, not a break. It documents this release's additions; at the next
#: release, with the fixtures refreshed, it starts empty again.
APPENDED: dict[str, tuple[tuple[str, str], ...]] = {
    names.EXPORT_FLEET: (("activity", names.PUBLISH_REPORT),),
}


class Breaking(AssertionError):
    """The current code would fail this in-flight run on the real host."""


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def compared(action: Produced) -> tuple[str, str | None]:
    """What DTFx compares: the kind, and for activities and sub-orchestrations the name,
    ignoring case (``StringComparison.OrdinalIgnoreCase``; the app's names are ASCII)."""
    return (action.kind, None if action.kind == "timer" else (action.name or "").casefold())


def judge(fixture: dict[str, Any], history: Sequence[HistoryEvent]) -> list[Produced]:
    """Replay ``history`` on the current code as the host would; the actions after the last one
    it records (new work).

    Raises:
        Breaking: the replay fails, or schedules something else, where the history records.
    """
    where = f"{fixture['orchestrator']} ({fixture['instanceId']}, {len(history)} events)"
    state = orchestrate(
        fixture["orchestrator"],
        history,
        instance_id=fixture["instanceId"],
        parent_instance_id=fixture["parentInstanceId"],
    )
    try:
        actions, outcome = produced(state, history, instance_ids=False)
    except NonDeterminismError as err:
        raise Breaking(f"{where}: the host's replay fails: {err}") from err
    if state.error is not None:
        raise Breaking(f"{where}: the orchestrator fails on the recorded history: {state.error}")
    expected = recorded(history)
    for task_id, (was, now) in enumerate(zip(expected, actions, strict=False)):
        if compared(was) != compared(now):
            raise Breaking(
                f"{where}: sequence id {task_id} was {was.kind} {was.name!r}, "
                f"the current code schedules {now.kind} {now.name!r}"
            )
    if len(actions) < len(expected):
        raise Breaking(
            f"{where}: the history records {len(expected)} actions, the current code schedules "
            f"{len(actions)} (the next one recorded: {expected[len(actions)]})"
        )
    new_work = [work.task_id for work in outcome.new_work]
    assert new_work == list(range(len(expected), len(actions))), (
        f"{where}: new work {new_work} is not what comes after the recorded actions"
    )
    return actions[len(expected) :]


def arrivals(history: Sequence[HistoryEvent]) -> list[int]:
    """Indexes of the events that arrive from outside: completions, fired timers, raised events."""
    return [
        index
        for index, event in enumerate(history)
        if completion_id(event) is not None or event_type(event) is EventType.EVENT_RAISED
    ]


def cuts(history: Sequence[HistoryEvent]) -> Iterator[tuple[int, list[HistoryEvent]]]:
    """The history as it stood when its k-th arrival had come in: ``(k, events)``, for
    ``CUTS`` values of k spread over the run. A history with no arrival (``export_target``
    starts and completes in one episode) is never in flight between episodes: none."""
    points = arrivals(history)
    if not points:
        return
    chosen = sorted({round(i * (len(points) - 1) / max(1, CUTS - 1)) for i in range(CUTS)})
    for k in chosen:
        yield k + 1, list(history[: points[k] + 1])


def test_the_previous_release_recorded_every_orchestrator() -> None:
    kinds = {load(path)["orchestrator"] for path in FIXTURES}
    assert kinds == set(names.ORCHESTRATORS)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_previous_release_history_replays_on_the_current_code(path: Path) -> None:
    fixture = load(path)
    appended = judge(fixture, fixture["history"])
    expected = APPENDED.get(fixture["orchestrator"], ())
    assert tuple((a.kind, a.name) for a in appended) == expected, (
        f"{path.name}: new work after the recorded run; compatible, but list it in APPENDED"
    )


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_previous_release_run_in_flight_replays_on_the_current_code(path: Path) -> None:
    fixture = load(path)
    history = fixture["history"]
    whole = [compared(a) for a in recorded(history)] + [
        (kind, name.casefold()) for kind, name in APPENDED.get(fixture["orchestrator"], ())
    ]
    for k, partial in cuts(history):
        recorded_so_far = recorded(partial)
        appended = judge(fixture, partial)
        # the new work is what the run goes on to do: what the old code did next, then any
        # work this release appends at the end
        then = [compared(a) for a in recorded_so_far + appended]
        assert then == whole[: len(then)], (
            f"{path.name}, cut after arrival {k}: the new work {appended} is not what the "
            "recorded run went on to do"
        )


# --- the check catches a real break, and lets an input-only change through ----------------


def _rename_submit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(names, "SUBMIT_EXPORT", "submit_export_v2")


def _insert_before_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrators.fleet import FleetRun  # noqa: PLC0415 - the module under change

    original = FleetRun.probe

    def probe(self: FleetRun) -> Any:
        yield self.context.call_activity(names.VALIDATE_SERVER, None)
        return (yield from original(self))

    monkeypatch.setattr(FleetRun, "probe", probe)


def _later_timers(monkeypatch: pytest.MonkeyPatch) -> None:
    import orchestrators.server  # noqa: PLC0415 - the module under change

    original = orchestrators.server.after
    monkeypatch.setattr(
        orchestrators.server, "after", lambda now, seconds: original(now, seconds + 1)
    )


@pytest.mark.parametrize(
    ("orchestrator", "change", "breaks"),
    [
        # an activity renamed: DTFx's name check fails the replay
        ("export_server", _rename_submit, True),
        # an activity inserted before the probe: every later sequence id moves
        ("export_fleet", _insert_before_probe, True),
        # every timer a second later: test_determinism re-records, the host replays it
        ("export_server", _later_timers, False),
    ],
    ids=["renamed-activity", "inserted-activity", "later-timers"],
)
def test_the_check_catches_a_breaking_change_only(
    orchestrator: str, change: Any, breaks: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    change(monkeypatch)
    verdicts: list[bool] = []
    for path in FIXTURES:
        fixture = load(path)
        if fixture["orchestrator"] != orchestrator:
            continue
        try:
            judge(fixture, fixture["history"])
        except Breaking:
            verdicts.append(True)
        else:
            verdicts.append(False)
    assert verdicts
    assert any(verdicts) if breaks else not any(verdicts)
