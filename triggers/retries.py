"""``POST /api/exports/{runId}/retry-failed``: what a retry may be asked, and which retry it is.

**At most one retry of a run at a time, found without an instance query.** The retries of a run
have ids fixed in advance: the ``n``-th is ``retry_run_id(runId, n)``, ``exp-`` and the first 20
hex digits of SHA-256 of ``{runId}/retry/{n}`` (the shape of every run id, so every route takes
it, the list shows it, and ``is_run_id`` holds). A request reads the status of each of the
``MAX_RETRIES`` ids of the run at once (point reads of known ids, never a query the host pages):

* one of them running: 409 ``RetryRunning`` naming it;
* otherwise the next id after the highest that exists is the new retry's (all taken: 409
  ``TooManyRetries``, naming the last, whose own failures are the ones left to retry).

Two requests that race both pick the same next id, and the host keeps one instance per id: the
second ``start_new`` fails while the first runs (``OverridableExistingInstanceStates`` is
``NonRunningStates`` by default: azure-functions-durable-extension ``DurableTaskOptions.cs``),
and that request answers ``RetryRunning``. What a race can still do: the target instance
(``{id}:target``) ends at once, so the losing request's ``start_new`` of it replaces the
winner's before its own start of the run fails. Two requests for the same run within the same
few milliseconds, each with a different new ``target``, may leave the retry with the loser's
target (both the caller's own containers); without a new target both copy the same kept value.
A purge of old retries leaves gaps in the numbers, which this reading does not mind: it looks at
every id of the run, not up to the first one missing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

import azure.durable_functions as df

from mysqlexport.errors import InvalidRequest
from mysqlexport.request import Target, parse_target
from triggers.runs import RUNNING
from workflow.instance_ids import retry_run_id

#: Retries of one run at most (then retry the last retry: it holds what still failed).
MAX_RETRIES: Final = 20
#: The only field a retry's body takes.
RETRY_FIELDS: Final = frozenset({"target"})


@dataclass(frozen=True)
class RetryRequest:
    """The body of a retry: nothing, or a new ``target`` for an export run (either form:
    ``containers`` or ``sasUriList``, whatever the run's own target was)."""

    target: Target | None = None


def parse_retry(body: object, *, has_body: bool) -> RetryRequest:
    """Validate a retry's decoded body (``has_body`` False: none was sent). ``InvalidRequest``
    names every field it does not take and every bad part of ``target``, as ``POST /exports``
    names them (the same validator)."""
    if not has_body:
        return RetryRequest()
    if not isinstance(body, dict):
        raise InvalidRequest({"body": "must be a JSON object (or no body at all)"})
    problems = {str(name)[:100]: "is not a known field" for name in set(body) - RETRY_FIELDS}
    target: Target | None = None
    if "target" in body:
        try:
            target = parse_target(body["target"])
        except InvalidRequest as err:
            problems.update(err.problems)
    if problems:
        raise InvalidRequest(problems)
    return RetryRequest(target)


@dataclass(frozen=True)
class RetrySlot:
    """Where a run's retries stand: the one running (if any) and the id for the next."""

    running: str | None
    next_id: str | None
    last_id: str | None


def _exists(status: Any) -> bool:
    return getattr(status, "runtime_status", None) is not None


async def retry_slot(client: df.DurableOrchestrationClient, run_id: str) -> RetrySlot:
    """The retries of ``run_id`` as the task hub holds them (``MAX_RETRIES`` status reads)."""
    ids = [retry_run_id(run_id, n) for n in range(1, MAX_RETRIES + 1)]
    statuses = await asyncio.gather(*(client.get_status(i) for i in ids))
    taken = [i for i, status in enumerate(statuses) if _exists(status)]
    running = next(
        (ids[i] for i in taken if getattr(statuses[i], "runtime_status", None) in RUNNING), None
    )
    last = ids[taken[-1]] if taken else None
    following = (taken[-1] + 1) if taken else 0
    next_id = ids[following] if following < len(ids) else None
    return RetrySlot(running, next_id, last)
