"""Fault injection for reliability tests: what the real host does when an activity goes wrong.

Two kinds of faults:

``activity_crash_after_side_effect`` (a probability, seeded): an activity runs to completion (its
side effects happen) but the host "crashes" before the result is recorded, so the work item is
delivered again: the at-least-once delivery every activity must tolerate.

Per activity name, a *plan* saying which invocations of that activity are hit (see ``FaultPlan``):

``raises``
    The invocation raises ``InjectedActivityError`` before the activity's own code runs (as a
    settings error raised before the activity's ``try`` would). The history gets ``TaskFailed``
    exactly as for any exception of user code (``devhost.activity_runner.completion_event``).
``worker_dies``
    The language-worker process dies mid-activity: the activity's code runs to its end (its side
    effects happen) and the process exits before the result reaches the host. The Functions host
    fails every invocation in flight on that process with a ``WorkerProcessExitException``
    (azure-functions-host, GrpcWorkerChannel.TryFailExecutions; message ``python exited with code
    137 (0x89)``, WorkerProcess.OnProcessExited); the WebJobs executor returns it as a failed
    result, which the Durable extension classifies as a user-code error, so the orchestrator
    sees ``TaskFailed`` with reason ``Activity function 'x' failed: python exited with code 137
    (0x89)`` (TaskActivityShim.cs, FunctionExecutionHelper.ExecuteActivityFunction). It is *not*
    retried by the host. With worker processes (``FUNCTIONS_WORKER_PROCESS_COUNT``) the process
    really dies, so every other invocation in flight on it fails the same way (an orchestrator
    episode among them fails its orchestration, TaskOrchestrationShim.cs); in devhost's own
    process only the chosen invocation fails, so a test stays deterministic.
``times_out``
    The invocation exceeds ``functionTimeout``: the activity's code runs (its side effects may
    land) and the host gives up on it. The orchestrator sees ``TaskFailed`` with reason
    ``Activity function 'x' failed: Timeout value of 00:30:00 was exceeded by function:
    Functions.x`` (FunctionTimeoutError -> TaskFailureException in TaskActivityShim.cs; the
    message is FunctionExecutor.TryHandleTimeoutAsync's in azure-webjobs-sdk). The real host then
    restarts the worker process (WebScriptHostExceptionHandler.OnTimeoutExceptionAsync); an
    injected timeout does not, so other invocations are unaffected.
``aborts``
    The Functions runtime fails to run the invocation (``FunctionsRuntimeError`` or the host
    stopping): the Durable extension throws ``SessionAbortedException``, the work item is
    abandoned and delivered again later (TaskActivityShim.cs). The activity's code runs; its
    result is lost and it runs once more.

A plan is an ``int`` N (the first N invocations of that activity, counted per name from the host's
start, are hit) or a predicate on ``ActivityCall`` (hit when it returns True). Names match the
registered activity name case-insensitively, as the host looks activities up; the key ``"*"``
applies to every activity without a plan of its own. When several kinds hit one invocation,
the first in the order raises, worker_dies, times_out, aborts wins. ``injected`` counts what was
injected, by (kind, activity name).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class FaultKind(Enum):
    """What an injected fault does to one activity invocation (see the module docstring)."""

    RAISES = "raises"
    WORKER_DIES = "worker_dies"
    TIMES_OUT = "times_out"
    ABORTS = "aborts"


class InjectedActivityError(Exception):
    """The exception an activity hit by ``HostFaults.raises`` raises."""


@dataclass(frozen=True)
class ActivityCall:
    """One activity invocation, as a fault plan's predicate sees it.

    ``attempt`` counts the invocations of this activity name so far, this one included (1 for
    the first); ``input`` is the decoded input the activity receives.
    """

    name: str
    input: Any
    instance_id: str
    task_id: int
    attempt: int


FaultPlan = int | Callable[[ActivityCall], bool]


def _plans(plans: Mapping[str, FaultPlan]) -> dict[str, FaultPlan]:
    normalized: dict[str, FaultPlan] = {}
    for name, plan in plans.items():
        if isinstance(plan, bool) or not (isinstance(plan, int) or callable(plan)):
            raise TypeError(f"fault plan for '{name}' must be an int or a predicate, not {plan!r}")
        if isinstance(plan, int) and plan < 0:
            raise ValueError(f"fault plan for '{name}' must not be negative")
        normalized[name.casefold()] = plan
    return normalized


@dataclass
class HostFaults:
    """Fault probabilities, per-activity fault plans and their counters (thread-safe)."""

    activity_crash_after_side_effect: float = 0.0
    seed: int = 0
    raises: Mapping[str, FaultPlan] = field(default_factory=dict)
    worker_dies: Mapping[str, FaultPlan] = field(default_factory=dict)
    times_out: Mapping[str, FaultPlan] = field(default_factory=dict)
    aborts: Mapping[str, FaultPlan] = field(default_factory=dict)
    _random: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    _attempts: Counter[str] = field(init=False, repr=False, default_factory=Counter)
    _kinds: list[tuple[FaultKind, dict[str, FaultPlan]]] = field(init=False, repr=False)
    crashes: int = field(init=False, default=0)
    injected: Counter[tuple[FaultKind, str]] = field(init=False, default_factory=Counter)

    def __post_init__(self) -> None:
        if not 0.0 <= self.activity_crash_after_side_effect <= 1.0:
            raise ValueError("activity_crash_after_side_effect must be within [0, 1]")
        self._random = random.Random(self.seed)
        self._kinds = [
            (FaultKind.RAISES, _plans(self.raises)),
            (FaultKind.WORKER_DIES, _plans(self.worker_dies)),
            (FaultKind.TIMES_OUT, _plans(self.times_out)),
            (FaultKind.ABORTS, _plans(self.aborts)),
        ]

    def crash_after_activity(self) -> bool:
        """Draw whether this activity's result is lost; counts the crashes."""
        with self._lock:
            crashed = self._random.random() < self.activity_crash_after_side_effect
            if crashed:
                self.crashes += 1
            return crashed

    def activity_fault(
        self, name: str, input_value: Any, instance_id: str, task_id: int
    ) -> FaultKind | None:
        """Count one invocation of activity ``name`` and return the fault that hits it, if any.

        A predicate is called outside the lock, so it may itself be slow or inspect the host.
        """
        key = name.casefold()
        with self._lock:
            self._attempts[key] += 1
            attempt = self._attempts[key]
        call = ActivityCall(name, input_value, instance_id, task_id, attempt)
        for kind, plans in self._kinds:
            plan = plans.get(key, plans.get("*"))
            if plan is None:
                continue
            hit = attempt <= plan if isinstance(plan, int) else bool(plan(call))
            if hit:
                with self._lock:
                    self.injected[(kind, name)] += 1
                return kind
        return None
