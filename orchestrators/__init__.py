"""Orchestrators: they decide, they never do I/O.

``export_fleet`` resolves the servers, probes the first few submissions (the circuit breaker),
and fans the rest out to ``export_shard`` sub-orchestrations; each shard keeps a sliding window
of at most its share of ``maxConcurrency`` ``export_server`` sub-orchestrations in flight (small
servers of a narrow window go in ``export_run``s: a few back to back in one slot); each
``export_server`` submits, waits on durable timers, polls and reads the final result. Shards keep
every history bounded: no single instance records more than one shard's worth of servers.
``export_target`` keeps a run's sealed target once; ``scheduled_run`` is the schedule's one
instance, so scheduled runs never overlap.
"""

from orchestrators import replay_speed
from orchestrators.blueprint import bp
from orchestrators.fleet import export_fleet
from orchestrators.run import export_run
from orchestrators.scheduled import scheduled_run
from orchestrators.server import export_server
from orchestrators.shard import export_shard
from orchestrators.target import export_target

replay_speed.install()

__all__ = [
    "bp",
    "export_fleet",
    "export_run",
    "export_server",
    "export_shard",
    "export_target",
    "scheduled_run",
]
