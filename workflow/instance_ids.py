"""Deterministic instance IDs for one run's orchestrations.

Every child of a run starts with the run's ID, so a run's shards and servers can be listed with one
prefix query, and the same server always gets the same ID within a run (a replay or a restarted
shard addresses the same instance, never a duplicate).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Final

#: The shape of every run ID ``new_run_id`` makes: a prefix of 2-16 lowercase letters and digits
#: starting with a letter (``exp``, ``sched``, or one added later), ``-``, 20 lowercase hex digits.
#: A URL may name only what the app can have started.
RUN_ID_SHAPE: Final = re.compile(r"[a-z][a-z0-9]{1,15}-[0-9a-f]{20}", re.ASCII)


def new_run_id(prefix: str = "exp") -> str:
    """A fresh run ID for the HTTP starter (outside orchestrators, so uuid4 is fine)."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def is_run_id(value: object) -> bool:
    """Whether ``value`` could name a run: the shape of ``new_run_id``'s answers, nothing else.

    The HTTP routes check a run ID from the URL with this before handing it to the durable
    client: the SDK puts the ID into the management URL unescaped
    (``RpcManagementOptions.to_url`` in azure-functions-durable 1.x), so an ID holding ``?``,
    ``#``, ``/`` or non-ASCII characters would address another resource of the host's API. The
    whole string must match (``fullmatch``: ``$`` would let a trailing newline through).
    """
    return isinstance(value, str) and RUN_ID_SHAPE.fullmatch(value) is not None


#: The prefix of a retry's id: it is started over HTTP, as ``exp-`` runs are.
RETRY_PREFIX: Final = "exp"


def retry_run_id(run_id: str, attempt: int) -> str:
    """The id of the ``attempt``-th retry of ``run_id`` (from 1): fixed in advance, so a run's
    retries are found by ``MAX_RETRIES`` status reads (``triggers/retries.py``)."""
    digest = hashlib.sha256(f"{run_id}/retry/{attempt}".encode()).hexdigest()[:20]
    return f"{RETRY_PREFIX}-{digest}"


def target_instance_id(run_id: str) -> str:
    """The instance that keeps ``run_id``'s sealed target: its input is the one copy per run."""
    return f"{run_id}:target"


#: The one instance that runs scheduled exports: a tick starts it only when it is not running,
#: so scheduled runs never overlap (one status read, no instance query).
SCHEDULE_INSTANCE_ID: Final = "schedule-export"


def shard_instance_id(run_id: str, shard: int) -> str:
    """The instance ID of shard ``shard`` of ``run_id``."""
    return f"{run_id}:shard:{shard:04d}"


def shard_prefix(run_id: str) -> str:
    """Prefix shared by every shard of ``run_id``."""
    return f"{run_id}:shard:"


def batch_instance_id(run_id: str, shard: int, unit: int) -> str:
    """The instance ID of unit ``unit`` of shard ``shard`` when it is a batch of servers."""
    return f"{run_id}:batch:{shard:04d}:{unit:05d}"


def batch_prefix(run_id: str) -> str:
    """Prefix shared by every batch orchestration of ``run_id``."""
    return f"{run_id}:batch:"


def server_instance_id(run_id: str, server_key: str) -> str:
    """The instance ID of one server's export in ``run_id`` (``server_key`` = ``ServerId.key``)."""
    digest = hashlib.sha256(server_key.encode()).hexdigest()[:20]
    return f"{run_id}:srv:{digest}"


def server_prefix(run_id: str) -> str:
    """Prefix shared by every server orchestration of ``run_id``."""
    return f"{run_id}:srv:"
