"""A one-orchestrator app for ``tests/bench/test_ablation.py``.

It imports the product's orchestrators as ``function_app.py`` does, which installs the
replay-speed parser unless ``FAST_HISTORY_TIMESTAMPS`` turns it off, and its orchestrator answers
from the process its episode ran in: whether the SDK parses history timestamps with that parser
there, and the process id.
"""

import os
from typing import Any

import azure.durable_functions as df

from orchestrators import replay_speed

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def parser_state(context: df.DurableOrchestrationContext) -> dict[str, Any]:
    del context
    # not replay-safe on purpose: it reports on the process the episode runs in
    return {"installed": replay_speed.installed(), "pid": os.getpid()}
