"""The activity functions: thin Functions glue around ``activities.arm_calls``.

Each trigger builds an ``ArmClient`` (and the ``Sealer`` where a SAS list must be opened, or the
app's credential where a SAS must be minted) from app settings for this call and hands over to
the plain body. Trigger annotations stay bare
``dict``: the Python worker rejects parameterised generics there; the body's contract
(``workflow.contracts``) types what they hold.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import azure.durable_functions as df

from activities import arm_calls, reports
from mysqlexport.arm import ArmClient
from mysqlexport.errors import ExportError
from mysqlexport.redaction import SecretUri, redact_text
from mysqlexport.sealing import Sealer
from mysqlexport.settings import Settings
from mysqlexport.storage import ContainerWriter, app_credential, mint_container_sas
from workflow import names
from workflow.contracts import (
    PublishRequest,
    RelayAnswer,
    RelayRequest,
    SubmitRequest,
    TargetCheck,
    TargetInput,
    kept_target_of,
    problem,
)
from workflow.instance_ids import target_instance_id

logger = logging.getLogger(__name__)
bp = df.Blueprint()
#: Gives a submission's SAS URIs when called (minted or opened then).
SasSource = Callable[[], Sequence[SecretUri]]


def _client() -> ArmClient:
    return ArmClient.from_settings(Settings.from_env())


def _sealer() -> Sealer:
    return Sealer.from_env()


def _arm_activity(body: Callable[[Any, ArmClient], Mapping[str, Any]]) -> Any:
    """Register ``body`` (``activities.arm_calls``) as the activity of the same name: it gets an
    ARM client built for the call, and its answer goes back as a dict."""

    def activity(payload: dict) -> dict:
        with _client() as client:
            return dict(body(payload, client))

    activity.__name__ = activity.__qualname__ = body.__name__  # the function's name in the host
    activity.__doc__ = body.__doc__
    return bp.activity_trigger(input_name="payload")(activity)


#: One discovery scope: the matching servers, Skipped rows, and ARM's errors per listing.
list_scope = _arm_activity(arm_calls.list_scope)
#: Dry run for one server: state and numberOfContainers.
validate_server = _arm_activity(arm_calls.validate_server)
#: Read the operation status (Azure-AsyncOperation URL).
read_status = _arm_activity(arm_calls.read_status)
#: Read the Location URL: still running, or the final result.
read_result = _arm_activity(arm_calls.read_result)
#: PUT backupsV2/{backupName}: an on-demand backup (no target: it stays in the service).
submit_backup = _arm_activity(arm_calls.submit_backup)
#: Read a backup's Location URL: still running, or the backup as it ended.
read_backup_result = _arm_activity(arm_calls.read_backup_result)
#: GET a backup resource.
read_backup = _arm_activity(arm_calls.read_backup)


@bp.activity_trigger(input_name="payload")
def publish_report(payload: dict) -> dict:
    """The end of every run: its report logged and counted per server and, when the run has a
    report container, written there as files with the app's identity (``activities.reports``)."""
    request = cast(PublishRequest, payload)
    container = request["container"]
    if not container:
        return dict(reports.publish_report(request, None))
    try:
        writer = ContainerWriter(container, app_credential())
    except ExportError as err:
        return dict(problem(err))
    return dict(reports.publish_report(request, writer.upload))


async def _kept_target(client: df.DurableOrchestrationClient, run_id: str) -> TargetInput | None:
    """The run's target: the input of its ``export_target`` instance (one copy per run, so no
    orchestration input or history carries it per server)."""
    status = await client.get_status(target_instance_id(run_id), show_input=True)
    return kept_target_of(getattr(status, "input_", None))


def _mint(containers: Sequence[str], expiry: datetime) -> list[SecretUri]:
    """A user-delegation SAS for each container, signed with a key the app's identity gets now
    (one per storage account, for this call only: a key is never reused across submissions)."""
    return mint_container_sas(containers, app_credential(), expiry=expiry)


def _sas_of(target: TargetInput, deadline_minutes: int | None) -> SasSource:
    """The SAS URIs of ``target`` when called: minted then for a containers target (for
    ``deadline_minutes``), or opened from the seal (``arm_calls.target_sas``)."""
    return lambda: arm_calls.target_sas(target, deadline_minutes, _sealer, _mint, datetime.now(UTC))


@bp.activity_trigger(input_name="payload")
@bp.durable_client_input(client_name="client")
async def submit_export(payload: dict, client: df.DurableOrchestrationClient) -> dict:
    """POST backupAndExport once; the only place a SAS is minted (a containers target) or a
    sealed SAS list opened.

    Async because it reads the run's target through the durable client; minting and the ARM
    call block, so they run off the worker's event loop.
    """
    request = cast(SubmitRequest, payload)
    target = await _kept_target(client, request["runId"])
    if target is None:
        return dict(arm_calls.target_unavailable(request["runId"]))
    sas_uris = _sas_of(target, request.get("deadlineMinutes"))

    def submit() -> dict[str, Any]:
        with _client() as arm:
            return dict(arm_calls.submit_export(request, arm, sas_uris))

    return await asyncio.to_thread(submit)


@bp.activity_trigger(input_name="payload")
@bp.durable_client_input(client_name="client")
async def check_target(payload: dict, client: df.DurableOrchestrationClient) -> dict:
    """A dry run's look at the run's target: the SAS a submission would get (minted for a
    containers target, opened from the seal for a SAS list), then dropped."""
    request = cast(TargetCheck, payload)
    target = await _kept_target(client, request["runId"])
    if target is None:
        return dict(arm_calls.target_unavailable(request["runId"]))
    sas_uris = _sas_of(target, request["deadlineMinutes"])
    return dict(await asyncio.to_thread(arm_calls.check_target, sas_uris))


@bp.activity_trigger(input_name="payload")
@bp.durable_client_input(client_name="client")
async def relay_cancel(payload: dict, client: df.DurableOrchestrationClient) -> dict:
    """Raise the cancel event on running child instances of a run (an orchestrator cannot).

    A child that has already ended answers 404/410; that is not an error here.
    """
    delivered, gone = 0, 0
    for instance_id in cast(RelayRequest, payload)["instances"]:
        try:
            await client.raise_event(str(instance_id), names.CANCEL_EVENT, {"requested": True})
            delivered += 1
        except Exception as err:  # noqa: BLE001 - the SDK raises bare Exception for 404/410
            gone += 1
            logger.info("cancel not delivered to %s: %s", instance_id, redact_text(str(err)))
    answer: RelayAnswer = {"delivered": delivered, "gone": gone}
    return dict(answer)
