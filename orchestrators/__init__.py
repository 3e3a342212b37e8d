"""Orchestrators: they decide, they never do I/O.

``export_fleet`` resolves the servers, probes the first few submissions (the circuit breaker)
and fans the rest out to ``export_shard`` sub-orchestrations; each shard runs its servers
through a sliding window (``window.py``) of ``export_server`` orchestrations (small servers of a
narrow window go a few back to back in one ``export_batch``); each ``export_server`` submits,
polls on durable timers and reads the final result (``backup_server`` does the same for an
on-demand backup, in a run whose ``operation`` is ``backup``). ``planning.py`` decides shards,
probes and batches; ``rows.py`` writes the rows of servers whose own orchestration did not.
``export_target`` keeps a run's sealed target once; ``scheduled_run`` is the schedule's one
instance, so scheduled runs never overlap; ``purge_history`` purges finished runs' history.
What crosses each boundary is typed in ``workflow.contracts``.
"""

from orchestrators import replay_speed
from orchestrators.backup import backup_server
from orchestrators.batch import export_batch
from orchestrators.blueprint import bp
from orchestrators.fleet import export_fleet
from orchestrators.retention import purge_history
from orchestrators.scheduled import scheduled_run
from orchestrators.server import export_server
from orchestrators.shard import export_shard
from orchestrators.target import export_target

replay_speed.install_from_setting()

__all__ = [
    "backup_server",
    "bp",
    "export_batch",
    "export_fleet",
    "export_server",
    "export_shard",
    "export_target",
    "purge_history",
    "scheduled_run",
]
