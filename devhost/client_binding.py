"""The URLs and client binding JSON the host gives to ``durableClient`` bindings.

The Python SDK builds its DurableOrchestrationClient from this JSON: ``rpcBaseUrl`` for the
client RPC calls (start, status, terminate, raise event, purge ...), ``managementUrls`` (with
the ``INSTANCEID`` placeholder) for ``create_check_status_response``. Both point back at the
devhost HTTP server: RPC under ``/durabletask/``, management webhooks under
``/runtime/webhooks/durabletask/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

INSTANCE_ID_PLACEHOLDER = "INSTANCEID"
CONNECTION_NAME = "Storage"
WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/durabletask/"


@dataclass(frozen=True)
class DurableEndpoints:
    """Where the durable HTTP APIs of one host live."""

    origin: str
    hub_name: str
    function_key: str | None = None

    @property
    def webhook_base(self) -> str:
        """``{origin}/runtime/webhooks/durabletask``."""
        return self.origin + WEBHOOK_PATH

    @property
    def rpc_base(self) -> str:
        """``{origin}/durabletask/`` (trailing slash, as the SDK expects)."""
        return self.origin + RPC_PATH

    def _query(self) -> str:
        query = f"taskHub={quote(self.hub_name)}&connection={CONNECTION_NAME}"
        if self.function_key:
            query += f"&code={quote(self.function_key)}"
        return query

    def management_urls(self, instance_id: str = INSTANCE_ID_PLACEHOLDER) -> dict[str, str]:
        """The check-status payload for ``instance_id`` (the placeholder by default)."""
        instance = f"{self.webhook_base}/instances/{quote(instance_id, safe=':')}"
        query = self._query()
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{instance}?{query}",
            "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{query}",
            "terminatePostUri": f"{instance}/terminate?reason={{text}}&{query}",
            "rewindPostUri": f"{instance}/rewind?reason={{text}}&{query}",
            "purgeHistoryDeleteUri": f"{instance}?{query}",
            "restartPostUri": f"{instance}/restart?{query}",
            "suspendPostUri": f"{instance}/suspend?reason={{text}}&{query}",
            "resumePostUri": f"{instance}/resume?reason={{text}}&{query}",
        }

    def client_binding(self) -> dict[str, object]:
        """The binding data of a ``durableClient`` input, as a dict."""
        code = f"code={quote(self.function_key)}" if self.function_key else ""
        suffix = f"?{code}" if code else ""
        orchestrators = f"{self.webhook_base}/orchestrators/{{functionName}}[/{{instanceId}}]"
        return {
            "taskHubName": self.hub_name,
            "connectionName": CONNECTION_NAME,
            "creationUrls": {
                "createNewInstancePostUri": orchestrators + suffix,
                "createAndWaitOnNewInstancePostUri": (
                    orchestrators
                    + "?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}"
                    + (f"&{code}" if code else "")
                ),
            },
            "managementUrls": self.management_urls(),
            "baseUrl": self.webhook_base,
            "requiredQueryStringParameters": code,
            "rpcBaseUrl": self.rpc_base,
            "httpBaseUrl": "",
        }

    def client_binding_json(self) -> str:
        """The JSON string the host passes to a ``durableClient`` parameter."""
        return json.dumps(self.client_binding())
