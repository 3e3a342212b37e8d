"""The history events ``ScriptedRun`` writes are the ones devhost writes: each is compared with
the event devhost's own code builds for the same outcome (its store, its episode runner, its
activity runner), so the fast tier replays the histories the local host would record."""

from __future__ import annotations

import json
from typing import Any

from azure.functions._durable_functions import df_dumps

from devhost.activity_runner import completion_event as devhost_completion
from devhost.config import HostConfig
from devhost.invoke import Raised, Returned
from devhost.protocol import HistoryEvent
from devhost.replay import _scheduled_event, run_episode
from devhost.store import ChildStart, EpisodeCommit, RuntimeStatus, Store
from devhost.work import ScheduledWork, WorkKind
from tests.orchestrators.script import accepted
from tests.reliability.replaying import (
    START,
    Call,
    Fails,
    Raises,
    app_index,
    completion_event,
    event_raised,
    scheduled_event,
)
from workflow import names

AT = START + 12.5


def call(kind: str, name: str, task_id: int = 3) -> Call:
    return Call(kind, name, None, None, task_id, 1, START)


def test_scheduled_events_are_devhosts() -> None:
    for work in (
        ScheduledWork(3, WorkKind.ACTIVITY, names.SUBMIT_EXPORT, '{"id": "x"}'),
        ScheduledWork(4, WorkKind.TIMER, fire_at="2027-01-15T08:00:10.000000Z"),
        ScheduledWork(5, WorkKind.SUB_ORCHESTRATION, names.EXPORT_SERVER, '{"a": 1}', "run:srv"),
    ):
        assert scheduled_event(work, AT) == _scheduled_event(work, AT)


def test_an_activity_answer_is_devhosts_task_completed() -> None:
    function = app_index().activity(names.SUBMIT_EXPORT)
    assert function is not None
    answer = accepted()
    theirs = devhost_completion(function, Returned(df_dumps(answer)), 3, AT)
    assert completion_event(call("activity", names.SUBMIT_EXPORT), answer, AT) == theirs


def test_an_activity_that_raised_is_devhosts_task_failed() -> None:
    function = app_index().activity(names.SUBMIT_EXPORT)
    assert function is not None
    theirs = devhost_completion(function, Raised("RuntimeError", "boom", "trace"), 3, AT)
    ours = completion_event(call("activity", names.SUBMIT_EXPORT), Raises("boom"), AT)
    assert {**ours, "Details": "trace"} == theirs


def child_result(name: str, input_value: Any) -> HistoryEvent:
    """The event devhost's store delivers to a parent when its child ``name`` (run by devhost's
    own episode runner on ``input_value``) has ended."""
    store = Store()
    store.create_instance(
        instance_id="parent", name=names.EXPORT_SHARD, input_text=None, timestamp=START
    )
    parent = store.get("parent")
    assert parent is not None
    child = ChildStart("child", name, json.dumps(json.dumps(input_value)), task_id=3)
    store.commit_episode(
        EpisodeCommit(
            "parent", parent.execution_id, START, 1, [], RuntimeStatus.RUNNING, children=(child,)
        )
    )
    instance = store.begin_episode("child")
    assert instance is not None
    result = run_episode(instance, app_index(), AT, HostConfig())
    store.commit_episode(result.commit)
    parent = store.get("parent")
    assert parent is not None
    (pending,) = parent.pending
    return pending.event


def test_a_child_that_completed_is_devhosts_sub_orchestration_completed() -> None:
    theirs = child_result(names.EXPORT_TARGET, {"sealedTarget": "sealed"})
    assert completion_event(call("suborchestration", names.EXPORT_TARGET), None, AT) == theirs


def test_a_child_that_failed_is_devhosts_sub_orchestration_failed() -> None:
    theirs = child_result(names.EXPORT_SERVER, {"not": "a server input"})
    message = str(theirs["Details"]).removeprefix("Message: ")
    assert message  # the orchestrator's own error (a KeyError for the missing key)
    ours = completion_event(call("suborchestration", names.EXPORT_SERVER), Fails(message), AT)
    assert ours == theirs


def test_a_raised_event_is_devhosts_event_raised() -> None:
    store = Store()
    store.create_instance(
        instance_id="run", name=names.EXPORT_FLEET, input_text=None, timestamp=START
    )
    # devhost.management takes the body's JSON and stores it re-encoded
    store.raise_event("run", names.CANCEL_EVENT, json.dumps(json.loads('{"requested": true}')), AT)
    instance = store.get("run")
    assert instance is not None
    theirs = instance.pending[-1].event
    assert event_raised(names.CANCEL_EVENT, {"requested": True}, AT) == theirs
