"""``GET /api/health``: can this app run an export now? What a post-deployment smoke test and an
availability alert call.

Each check says healthy or not, and why, without a secret (no key, token, SAS or setting value
that is one; messages pass through redaction):

* ``settings``: the app settings parse (``Settings.from_env``);
* ``scheduleRequest``: ``EXPORT_SCHEDULE_REQUEST``, when set, is a valid request (else every
  scheduled tick logs and starts nothing: a nightly backup silently gone);
* ``sealingKey``: ``SAS_SEALING_KEY`` is set and seals and opens (every run naming
  ``target.sasUriList`` needs it, and a retry of one; the API takes such runs, so the key is
  checked even where schedules name containers only);
* ``armToken``: a token for ``ARM_SCOPE`` from the credential the ARM client uses
  (``mysqlexport.arm.default_credential``: azure-identity's ``DefaultAzureCredential``);
* ``arm``: ARM answers that token. The call is ``GET /providers/Microsoft.DBforMySQL/operations``
  (``Operations_List`` of the MySQL flexible server API, the api-version of
  ``MYSQL_API_VERSION``; azure-mgmt-mysqlflexibleservers ``operations/_operations.py``): it names
  no subscription or resource, so no role assignment is involved and the least-privilege role
  (``infra/``) needs no further action. ARM authenticates every request before it routes it, so
  any answer but 401/403 and 5xx shows that ARM is up and takes the token (the emulator serves
  the list as ARM does, after checking the token);
* ``reportContainer``: with ``REPORT_CONTAINER_URL`` set, the app's identity reads the
  container's properties (a token for storage, the container there, a data role on it: what
  writing the report files needs, short of the write itself); unset, healthy (nothing is
  written);
* ``taskHub``: the durable client reads an instance's status (the schedule's) from the task hub.

200 when every check passes; 503 otherwise, with ``error.details`` naming each failed check
(``target``). A check that depends on one that failed is failed as ``NotChecked``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import azure.durable_functions as df
import requests

from mysqlexport.arm import USER_AGENT, default_credential
from mysqlexport.errors import ExportError
from mysqlexport.ids import PROVIDER
from mysqlexport.redaction import redact_text
from mysqlexport.request import parse_request
from mysqlexport.sealing import Sealer
from mysqlexport.settings import Settings
from mysqlexport.storage import ContainerWriter, app_credential
from workflow.instance_ids import SCHEDULE_INSTANCE_ID

logger = logging.getLogger(__name__)

#: The longest any one check may take before it is reported failed (``Timeout``).
CHECK_SECONDS: Final = 20.0
#: The ARM call's own timeouts (connect, read): at most the settings', at most these.
ARM_TIMEOUTS: Final = (10.0, 15.0)
MESSAGE_LENGTH: Final = 1000
_PROBE_SAS: Final = "https://health.invalid/probe?sig=probe"
#: Every check, in the order the answer lists them.
CHECK_NAMES: Final = (
    "settings",
    "scheduleRequest",
    "sealingKey",
    "armToken",
    "arm",
    "reportContainer",
    "taskHub",
)


@dataclass(frozen=True)
class Check:
    """One check's verdict."""

    name: str
    healthy: bool
    message: str
    code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out: dict[str, Any] = {"name": self.name, "healthy": self.healthy, "message": self.message}
        if self.code is not None:
            out["code"] = self.code
        return out


def _failure(code: str, message: str) -> ExportError:
    """A check's failure as the answer names it (the message redacted)."""
    return ExportError(message, code=code)


def _failed(name: str, code: str, message: str) -> Check:
    return Check(name, False, redact_text(message)[:MESSAGE_LENGTH], code)


async def _run(name: str, check: Callable[[], Awaitable[str]]) -> Check:
    """Run one check, bounded by ``CHECK_SECONDS``: every way it can fail is its verdict."""
    try:
        message = await asyncio.wait_for(check(), CHECK_SECONDS)
    except ExportError as err:
        return _failed(name, err.code, err.message)
    except TimeoutError:
        return _failed(name, "Timeout", f"no verdict within {CHECK_SECONDS:.0f} s")
    except Exception as err:  # noqa: BLE001 - a health check reports whatever failed, by name
        return _failed(name, type(err).__name__, str(err))
    return Check(name, True, message)


def _not_checked(name: str, because: str) -> Check:
    return Check(name, False, f"not checked: {because}", "NotChecked")


async def _settings() -> str:
    Settings.from_env()
    return "the app settings are valid"


async def _schedule_request() -> str:
    raw = os.environ.get("EXPORT_SCHEDULE_REQUEST", "")
    if not raw.strip():
        return "EXPORT_SCHEDULE_REQUEST is not set: scheduled ticks start nothing"
    try:
        body = json.loads(raw)
    except ValueError as err:
        raise _failure(
            "InvalidSettings", f"EXPORT_SCHEDULE_REQUEST is not JSON ({type(err).__name__})"
        ) from err
    request = parse_request(body)
    return f"EXPORT_SCHEDULE_REQUEST is a valid {request.operation} request"


async def _sealing_key() -> str:
    sealer = Sealer.from_env()
    opened = sealer.open(sealer.seal([_PROBE_SAS]))
    if [uri.reveal() for uri in opened] != [_PROBE_SAS]:
        raise _failure("InvalidSettings", "SAS_SEALING_KEY does not open what it seals")
    return "SAS_SEALING_KEY seals and opens"


def _token(scope: str) -> str:
    try:
        return default_credential().get_token(scope).token
    except Exception as err:  # azure-identity raises several families
        raise _failure("CredentialUnavailable", f"no token for {scope}: {err}") from err


def _arm_answer(settings: Settings, token: str) -> str:
    url = f"{settings.arm_endpoint}/providers/{PROVIDER}/operations"
    timeouts = (
        min(settings.connect_timeout_seconds, ARM_TIMEOUTS[0]),
        min(settings.read_timeout_seconds, ARM_TIMEOUTS[1]),
    )
    try:
        answer = requests.get(
            url,
            params={"api-version": settings.api_version},
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            timeout=timeouts,
            allow_redirects=False,
        )
    except requests.RequestException as err:
        raise _failure("ArmUnreachable", f"GET {url}: {type(err).__name__}: {err}") from err
    request_id = answer.headers.get("x-ms-request-id", "none")
    said = f"GET {url} answered {answer.status_code} (x-ms-request-id {request_id})"
    if answer.status_code in (401, 403):
        raise _failure("ArmRefusedToken", f"{said}: {_arm_code(answer)}")
    if answer.status_code >= 500:
        raise _failure("ArmUnavailable", f"{said}: {_arm_code(answer)}")
    return said


def _arm_code(answer: requests.Response) -> str:
    try:
        error = answer.json().get("error") or {}
    except (ValueError, AttributeError):
        return "no ARM error body"
    return f"{error.get('code')}: {error.get('message')}"


async def _report_container(url: str | None) -> str:
    if url is None:
        return "REPORT_CONTAINER_URL is not set: no report files are written"
    writer = ContainerWriter(url, app_credential())
    await asyncio.to_thread(writer.probe)
    return f"the identity reads {url}: report files can go there"


async def run_checks(client: df.DurableOrchestrationClient) -> list[Check]:
    """Every check, those that do not depend on each other at once."""

    async def task_hub() -> str:
        await client.get_status(SCHEDULE_INSTANCE_ID)
        return "the task hub answers"

    async def identity_and_arm() -> list[Check]:
        try:
            settings = Settings.from_env()
        except ExportError:
            return [_not_checked(n, "the settings are invalid") for n in ("armToken", "arm")]
        tokens: list[str] = []

        async def token() -> str:
            tokens.append(await asyncio.to_thread(_token, settings.arm_scope))
            return f"a token for {settings.arm_scope}"

        got = await _run("armToken", token)
        if not tokens:
            return [got, _not_checked("arm", "no token for ARM")]

        async def arm() -> str:
            return await asyncio.to_thread(_arm_answer, settings, tokens[0])

        return [got, await _run("arm", arm)]

    async def report_container() -> Check:
        try:
            url = Settings.from_env().report_container_url
        except ExportError:
            return _not_checked("reportContainer", "the settings are invalid")
        return await _run("reportContainer", lambda: _report_container(url))

    first = await asyncio.gather(
        _run("settings", _settings),
        _run("scheduleRequest", _schedule_request),
        _run("sealingKey", _sealing_key),
        identity_and_arm(),
        report_container(),
        _run("taskHub", task_hub),
    )
    checks: list[Check] = []
    for item in first:
        checks.extend(item if isinstance(item, list) else [item])
    return sorted(checks, key=lambda c: CHECK_NAMES.index(c.name))


def health_body(checks: list[Check]) -> tuple[dict[str, Any], int]:
    """The answer and its status: 200 when every check passed, else 503 naming each failure."""
    failed = [c for c in checks if not c.healthy]
    body: dict[str, Any] = {
        "status": "Unhealthy" if failed else "Healthy",
        "checks": [c.to_dict() for c in checks],
    }
    if not failed:
        return body, 200
    for check in failed:
        logger.warning("health check %s failed: %s: %s", check.name, check.code, check.message)
    body["error"] = {
        "code": "Unhealthy",
        "message": f"failed: {', '.join(c.name for c in failed)}",
        "details": [
            {"code": c.code or "Failed", "target": c.name, "message": c.message} for c in failed
        ],
    }
    return body, 503
