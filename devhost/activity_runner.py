"""Running one activity invocation and turning its outcome into a history event.

The worker decodes the activity input with the SDK's ``df_loads`` (falling back to the raw
string), passes it as the ``activity_trigger`` parameter, and encodes the return value with
``df_dumps``; that text becomes ``TaskCompleted.Result``. An exception becomes ``TaskFailed``
with the host's reason (``Activity function 'x' failed: Type: message``) and the Python
traceback as details. Either event is stamped when the activity has returned, as DTFx's
activity dispatcher builds it after ``RunAsync`` (a history event's ``Timestamp`` is the moment
it is constructed), so an orchestrator reading the timestamp learns when its activity ended.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from typing import Any

from azure.functions._durable_functions import df_dumps, df_loads

from devhost.indexing import IndexedFunction
from devhost.invoke import call_function
from devhost.protocol import EventType, HistoryEvent, make_event


def decode_input(input_text: str | None) -> Any:
    """Decode an activity's JSON input like the worker's ActivityTriggerConverter."""
    if input_text is None:
        return None
    try:
        return df_loads(input_text)
    except json.JSONDecodeError:
        return input_text


def run_activity(
    function: IndexedFunction,
    *,
    task_id: int,
    input_text: str | None,
    app_dir: str,
    clock: Callable[[], float],
) -> HistoryEvent:
    """Invoke ``function`` and return its TaskCompleted or TaskFailed event, stamped by
    ``clock`` once the function has returned."""
    try:
        value = decode_input(input_text)
        result = call_function(
            function.user_function,
            {function.trigger_param: value},
            function_name=function.name,
            function_directory=app_dir,
        )
        try:
            result_text = df_dumps(result)
        except TypeError as err:
            raise ValueError(
                f"activity trigger output must be json serializable ({result})"
            ) from err
    except Exception as err:  # noqa: BLE001 - any failure of user code becomes TaskFailed
        return failure_event(function.name, err, clock(), task_id)
    return make_event(
        EventType.TASK_COMPLETED, clock(), TaskScheduledId=task_id, Result=result_text
    )


def failure_event(name: str, error: BaseException, timestamp: float, task_id: int) -> HistoryEvent:
    """Build the TaskFailed event for an activity that raised ``error``."""
    message = str(error) or type(error).__name__
    return make_event(
        EventType.TASK_FAILED,
        timestamp,
        TaskScheduledId=task_id,
        Reason=f"Activity function '{name}' failed: {type(error).__name__}: {message}",
        Details="".join(traceback.format_exception(error)),
    )
