"""Running one activity invocation and turning its outcome into a history event.

The worker decodes the activity input with the SDK's ``df_loads`` (falling back to the raw
string), passes it as the ``activity_trigger`` parameter (and the durable client JSON to a
``durableClient`` input binding, which any function may carry), and encodes the return value
with ``df_dumps``; that text becomes ``TaskCompleted.Result``. ``execute_activity`` does that on
the calling thread (the worker's pool runs it for a sync activity), ``execute_activity_async``
on the worker's event loop (for an ``async def`` activity).

The outcome becomes the event the Durable extension's TaskActivityShim
(azure-functions-durable-extension, src/WebJobs.Extensions.DurableTask/Listener/
TaskActivityShim.cs) would record:

* returned: ``TaskCompleted`` with the result;
* user code raised (``UserCodeError``): ``TaskFailed`` with reason ``Activity function 'x' failed:
  Type: message`` and the Python traceback as details;
* the worker process died (a failed result carrying ``WorkerProcessExitException``, which
  ``FunctionExecutionHelper.ExecuteActivityFunction`` classifies as ``UserCodeError``):
  ``TaskFailed`` with reason ``Activity function 'x' failed: python exited with code 137 (0x89)``;
* timed out (``FunctionTimeoutError``): ``TaskFailed`` with reason ``Activity function 'x' failed:
  Timeout value of 00:30:00 was exceeded by function: Functions.x``.

For the last two the details are what ``Utils.SerializeCause`` makes of the .NET exception with
the extension's error settings (Json.NET, ``TypeNameHandling.Objects``, ErrorSerializerSettings
Factory.cs): a JSON object with ``$type`` and ``Message`` (stack traces left null here).

Either event is stamped when the activity has returned, as DTFx's activity dispatcher builds it
after ``RunAsync`` (a history event's ``Timestamp`` is the moment it is constructed), so an
orchestrator reading the timestamp learns when its activity ended.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from azure.functions._durable_functions import df_dumps, df_loads

from devhost.config import format_timespan
from devhost.indexing import IndexedFunction
from devhost.invoke import (
    Outcome,
    Raised,
    Returned,
    WorkerExited,
    call_sync,
    prepare_arguments,
)
from devhost.protocol import EventType, HistoryEvent, make_event

#: HResult of System.Exception (COR_E_EXCEPTION), which every exception below carries.
_HRESULT = -2146233088


def decode_input(input_text: str | None) -> Any:
    """Decode an activity's JSON input like the worker's ActivityTriggerConverter."""
    if input_text is None:
        return None
    try:
        return df_loads(input_text)
    except json.JSONDecodeError:
        return input_text


def activity_arguments(
    function: IndexedFunction, input_text: str | None, client_binding: str | None = None
) -> dict[str, Any]:
    """The arguments the worker passes: the decoded input, the durable client JSON for each
    ``durableClient`` binding, None for input bindings devhost does not emulate."""
    arguments: dict[str, Any] = {function.trigger_param: decode_input(input_text)}
    for name in function.client_params:
        arguments[name] = client_binding
    for name in function.other_params:
        arguments[name] = None
    return arguments


def bind_arguments(
    function: IndexedFunction, arguments: Mapping[str, Any], app_dir: str
) -> dict[str, Any]:
    """``arguments`` plus the ``context`` argument when the function declares one."""
    return prepare_arguments(
        function.user_function, arguments, function_name=function.name, function_directory=app_dir
    )


def _encode(result: Any) -> Returned:
    try:
        return Returned(df_dumps(result))
    except TypeError as err:
        raise ValueError(f"activity trigger output must be json serializable ({result})") from err


def execute_activity(
    function: IndexedFunction, arguments: Mapping[str, Any], app_dir: str
) -> Returned | Raised:
    """Run a synchronous activity on the calling thread; user errors become ``Raised``."""
    try:
        kwargs = bind_arguments(function, arguments, app_dir)
        return _encode(call_sync(function.user_function, kwargs))
    except Exception as err:  # noqa: BLE001 - any failure of user code becomes TaskFailed
        return Raised.of(err)


async def execute_activity_async(
    function: IndexedFunction, arguments: Mapping[str, Any], app_dir: str
) -> Returned | Raised:
    """Run an ``async def`` activity on the running event loop; user errors become ``Raised``."""
    try:
        kwargs = bind_arguments(function, arguments, app_dir)
        return _encode(await function.user_function(**kwargs))
    except Exception as err:  # noqa: BLE001 - any failure of user code becomes TaskFailed
        return Raised.of(err)


def completion_event(
    function: IndexedFunction, outcome: Outcome, task_id: int, timestamp: float
) -> HistoryEvent:
    """The history event the host records for ``outcome`` (see the module docstring)."""
    if isinstance(outcome, Returned):
        return make_event(
            EventType.TASK_COMPLETED, timestamp, TaskScheduledId=task_id, Result=outcome.value
        )
    if isinstance(outcome, Raised):
        message = outcome.message or outcome.type_name
        return _task_failed(
            task_id,
            timestamp,
            f"Activity function '{function.registered_name}' failed: "
            f"{outcome.type_name}: {message}",
            outcome.details,
        )
    if isinstance(outcome, WorkerExited):
        inner = _dotnet_exception("System.Exception, System.Private.CoreLib", "")
        details = _dotnet_exception(
            "Microsoft.Azure.WebJobs.Script.Workers.WorkerProcessExitException, "
            "Microsoft.Azure.WebJobs.Script",
            outcome.message,
            inner=inner,
        )
        return _task_failed(
            task_id,
            timestamp,
            f"Activity function '{function.registered_name}' failed: {outcome.message}",
            json.dumps(details),
        )
    message = timeout_message(outcome.seconds, function.name)
    details = _dotnet_exception(
        "Microsoft.Azure.WebJobs.Host.FunctionTimeoutException, Microsoft.Azure.WebJobs.Host",
        message,
        first={
            "Timeout": format_timespan(outcome.seconds),
            "InstanceId": str(uuid.uuid4()),
            "MethodName": f"Functions.{function.name}",
        },
    )
    return _task_failed(
        task_id,
        timestamp,
        f"Activity function '{function.registered_name}' failed: {message}",
        json.dumps(details),
    )


def timeout_message(seconds: float, function_name: str) -> str:
    """``FunctionTimeoutException``'s message (azure-webjobs-sdk, src/Microsoft.Azure.WebJobs.Host/
    Executors/FunctionExecutor.cs, TryHandleTimeoutAsync): the timeout as a TimeSpan and the
    function's short name, ``Functions.<name>`` in the Functions host."""
    return (
        f"Timeout value of {format_timespan(seconds)} was exceeded by function: "
        f"Functions.{function_name}"
    )


def _dotnet_exception(
    type_name: str,
    message: str,
    *,
    inner: dict[str, Any] | None = None,
    first: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Json.NET's rendering of a .NET exception: its own properties, then System.Exception's."""
    return {
        "$type": type_name,
        **(first or {}),
        "Message": message,
        "Data": {"$type": "System.Collections.ListDictionaryInternal, System.Private.CoreLib"},
        "InnerException": inner,
        "HelpLink": None,
        "Source": None,
        "HResult": _HRESULT,
        "StackTrace": None,
    }


def _task_failed(task_id: int, timestamp: float, reason: str, details: str) -> HistoryEvent:
    return make_event(
        EventType.TASK_FAILED, timestamp, TaskScheduledId=task_id, Reason=reason, Details=details
    )
