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

RUN_ID_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")


def new_run_id(prefix: str = "exp") -> str:
    """A fresh run ID for the HTTP starter (outside orchestrators, so uuid4 is fine)."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def shard_instance_id(run_id: str, shard: int) -> str:
    """The instance ID of shard ``shard`` of ``run_id``."""
    return f"{run_id}:shard:{shard:04d}"


def shard_prefix(run_id: str) -> str:
    """Prefix shared by every shard of ``run_id``."""
    return f"{run_id}:shard:"


def run_instance_id(run_id: str, shard: int, unit: int) -> str:
    """The instance ID of unit ``unit`` of shard ``shard`` when it is a run of several servers."""
    return f"{run_id}:run:{shard:04d}:{unit:05d}"


def run_prefix(run_id: str) -> str:
    """Prefix shared by every run orchestration of ``run_id``."""
    return f"{run_id}:run:"


def server_instance_id(run_id: str, server_key: str) -> str:
    """The instance ID of one server's export in ``run_id`` (``server_key`` = ``ServerId.key``)."""
    digest = hashlib.sha256(server_key.encode()).hexdigest()[:20]
    return f"{run_id}:srv:{digest}"


def server_prefix(run_id: str) -> str:
    """Prefix shared by every server orchestration of ``run_id``."""
    return f"{run_id}:srv:"
