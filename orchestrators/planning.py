"""Planning a run: which shard each server goes to, which servers the probe submits, and which
small servers a shard exports back to back in one batch. Pure functions of the servers' predicted
sizes (provisioned storage), largest first; the orchestrators call them with their inputs.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import NamedTuple

#: A shard whose window has this many slots ends about as evenly as one global window would;
#: when the concurrency allows that many slots to more shards than ``shard_size`` requires, the
#: fleet uses them (smaller shards replay shorter histories), down to MIN_SHARD_SIZE servers.
WIDE_WINDOW = 25
MIN_SHARD_SIZE = 100
#: A batch holds at most 1/BATCH_SHARE of one window slot's predicted load.
BATCH_SHARE = 10


class ShardPlan(NamedTuple):
    """One shard: its servers (positions in the run's list, largest first) and its window."""

    positions: list[int]
    window: int


def plan_shards(
    sizes: Sequence[float | None], shard_size: int, concurrency: int
) -> list[ShardPlan]:
    """Deal servers (largest first) to shards by predicted load: (positions, window) per shard.

    ``sizes`` predicts each export's length (provisioned storage; None when unknown, counted as
    the largest). The windows split ``concurrency`` evenly (each at least 1) and every server
    goes, largest first, to the shard whose earliest window slot frees first, counting the
    sizes already dealt to it (a greedy LPT over all shards' slots): the same order a single
    global window would run them in, so shards finish together and the fixed windows cost
    little makespan. No shard holds more than ``shard_size``; each keeps largest first. When
    every shard can still have ``WIDE_WINDOW`` slots, the fleet is split further (shards of at
    least ``MIN_SHARD_SIZE``): as even, and cheaper to replay.
    """
    count = len(sizes)
    if count == 0:
        return []
    needed = -(-count // max(1, shard_size))
    affordable = min(concurrency // WIDE_WINDOW, -(-count // MIN_SHARD_SIZE))
    shards = min(count, max(1, needed, affordable))
    base, extra = divmod(concurrency, shards)
    windows = [max(1, base + (1 if i < extra else 0)) for i in range(shards)]
    known = [float(s) for s in sizes if s is not None]
    unknown_weight = max(known, default=1.0)
    slots: list[list[float]] = [[0.0] * w for w in windows]
    members: list[list[int]] = [[] for _ in range(shards)]
    # (earliest free slot, servers dealt, shard) for every shard that still has room; ties
    # go round the shards, so equal sizes are dealt like cards
    frontier = [(0.0, 0, i) for i in range(shards)]
    heapq.heapify(frontier)
    for position, size in enumerate(sizes):
        _, _, shard = heapq.heappop(frontier)
        members[shard].append(position)
        weight = max(0.0, float(size)) if size is not None else unknown_weight
        heapq.heapreplace(slots[shard], slots[shard][0] + weight)
        if len(members[shard]) < shard_size:
            heapq.heappush(frontier, (slots[shard][0], len(members[shard]), shard))
    return [ShardPlan(m, w) for m, w in zip(members, windows, strict=True)]


def probe_indices(plan: Sequence[ShardPlan], budget: int) -> list[int]:
    """The servers to probe: the heads of the first shards' windows, at most ``budget``."""
    chosen: list[int] = []
    for positions, window in plan:
        chosen.extend(positions[: min(window, budget - len(chosen))])
        if len(chosen) >= budget:
            break
    return chosen


def plan_batches(sizes: Sequence[float | None], window: int, max_servers: int) -> list[list[int]]:
    """Group a shard's servers (largest first) into the units its window runs.

    A shard's window refills on every completion, and every completion replays the shard's whole
    history, so a shard pays for each server a share of its history. When the window is narrow
    against the shard, small servers go in batches: a batch occupies one slot and exports its
    servers back to back (``export_batch``), so the shard sees one completion per batch.

    The first ``window`` servers (the largest, and the probed ones) are units of their own;
    after them consecutive servers form batches of at most ``max_servers`` whose predicted
    total stays within 1/``BATCH_SHARE`` of one slot's share of the shard (a server that alone is
    larger stays alone). A server of unknown size (named explicitly, not discovered) counts as
    the largest and always goes alone: nothing says it is small.
    """
    count = len(sizes)
    known = [float(s) for s in sizes if s is not None]
    fill = max(known, default=1.0)
    weights = [fill if s is None else max(0.0, float(s)) for s in sizes]
    window = max(1, window)
    cap = sum(weights) / window / BATCH_SHARE
    units = [[i] for i in range(min(window, count))]
    current: list[int] = []
    load = 0.0
    for i in range(min(window, count), count):
        if sizes[i] is None:
            if current:
                units.append(current)
                current, load = [], 0.0
            units.append([i])
            continue
        if current and (len(current) >= max_servers or load + weights[i] > cap):
            units.append(current)
            current, load = [], 0.0
        current.append(i)
        load += weights[i]
    if current:
        units.append(current)
    return units
