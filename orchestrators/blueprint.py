"""The orchestrators' blueprint, in its own module so each orchestrator module can register on it
and call the others by their decorated function without circular imports."""

import azure.durable_functions as df

bp = df.Blueprint()
