"""HTTP routes and the timer trigger of the sample app (one blueprint)."""

from __future__ import annotations

import json

import azure.durable_functions as df
import azure.functions as func
import devhost_sample_state as state

bp = df.Blueprint()


def _json(value: object, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(value), status_code=status, mimetype="application/json")


@bp.route(route="orchestrators/{name}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_json() if req.get_body() else None
    instance_id = await client.start_new(
        req.route_params["name"], instance_id=req.params.get("id"), client_input=body
    )
    return client.create_check_status_response(req, instance_id)


@bp.route(route="jobs", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def jobs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new("progress", client_input=req.get_json())
    return client.create_check_status_response(req, instance_id)


@bp.route(route="status/{id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def get_status(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    status = await client.get_status(req.route_params["id"])
    if not status:
        return _json({"found": False}, 404)
    return _json(status.to_json())


@bp.route(route="status/{id}/terminate", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def terminate(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    await client.terminate(req.route_params["id"], req.params.get("reason", "stopped"))
    return _json({"terminated": True}, 202)


@bp.route(route="status/{id}/events/{event}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def raise_event(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    await client.raise_event(req.route_params["id"], req.route_params["event"], req.get_json())
    return _json({"raised": True}, 202)


@bp.route(route="hello/{name?}", methods=["GET"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params.get("name") or req.params.get("name") or "world"
    return func.HttpResponse(f"hello {name}")


@bp.route(route="secure/ping", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def secure_ping(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("pong")


@bp.timer_trigger(arg_name="timer", schedule="%SAMPLE_TICK_SCHEDULE%")
@bp.durable_client_input(client_name="client")
async def tick(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    with state.lock:
        state.timer_ticks.append(
            {
                "past_due": timer.past_due,
                "last": timer.schedule_status.get("Last"),
                "client": type(client).__name__,
            }
        )
