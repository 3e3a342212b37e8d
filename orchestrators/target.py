"""``export_target``: where a run keeps its target, once.

Its input is ``workflow.contracts.TargetInput``: ``{"containers": [...]}`` (container URLs, no
secret: the submit activity mints a SAS from them per export) or ``{"sealedTarget": ...}`` (a
SAS list given by the caller, sealed), and it ends at once; the task hub keeps a finished
instance's input until its history is purged. The submit activity reads it with the durable
client (``get_status(show_input=True)``). So no orchestration input, history, continue-as-new
or activity input carries the target per server: 64 URIs of 4,096 characters
seal to ~350 KB, which the Azure Storage backend would otherwise offload to a blob and read
back on every replay of every server orchestration (``python -m bench.inputs`` prints the
sizes).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators.blueprint import bp


@bp.orchestration_trigger(context_name="context")
def export_target(context: df.DurableOrchestrationContext) -> Generator[Any, Any, None]:
    """Hold the run's target as this instance's input; nothing to do."""
    return
    yield  # a generator, as the Durable SDK requires of an orchestrator
