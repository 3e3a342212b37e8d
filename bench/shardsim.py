"""Shard size against makespan when sizes predict export lengths only roughly (a simulation).

    python -m bench.shardsim            # the table in docs/performance.md
    python -m bench.shardsim --quick

Shards are fixed partitions of the window: ``plan_shards`` deals servers by predicted length
(provisioned storage), and a shard whose servers run longer than predicted cannot hand work to
one that finishes early. How much that costs depends on how good the prediction is, which the
benchmark cannot say (there the storage figure follows the data size exactly). This simulation
uses the benchmark's seeded log-normal export lengths, predicts each one off by a log-normal
factor (sigma 0, 0.5, 1), deals the servers with the app's own ``plan_shards`` and runs each
shard's window largest first, with a fixed 8 s per export for submission and detection.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
from collections.abc import Sequence

from bench.durations import lognormal_sampler, lower_bound
from orchestrators.planning import plan_shards

OVERHEAD_SECONDS = 8.0
GIB_PER_SECOND = 50 / 1024  # the benchmark's 50 MiB/s


def fleet(servers: int, seed: int, noise: float) -> tuple[list[float], list[float]]:
    """(export lengths, predicted sizes), largest predicted first, as ``discovery.merge`` sorts."""
    rng = random.Random(seed)  # noqa: S311 - seeded measurements, not secrets
    sample = lognormal_sampler()
    lengths = [sample(rng) for _ in range(servers)]
    errors = random.Random(f"noise:{seed}")  # noqa: S311
    predicted = [
        max(20, math.ceil(length * GIB_PER_SECOND) * 2) * math.exp(errors.gauss(0.0, noise))
        for length in lengths
    ]
    order = sorted(range(servers), key=lambda i: -predicted[i])
    return [lengths[i] for i in order], [predicted[i] for i in order]


def makespan(lengths: Sequence[float], plan: Sequence[tuple[list[int], int]]) -> float:
    """When the last shard ends, every shard's window running its servers in order."""
    end = 0.0
    for positions, window in plan:
        slots = [0.0] * window
        for position in positions:
            start = heapq.heappop(slots)
            heapq.heappush(slots, start + lengths[position] + OVERHEAD_SECONDS)
        end = max(end, *slots)
    return end


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small fleets only")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    cases = (
        [(200, 20), (1000, 20)]
        if args.quick
        else [(1000, 20), (1000, 50), (3000, 50), (10000, 200)]
    )
    sizes = (100, 250, 500, 1000)
    print("makespan / lower bound by SHARD_SIZE (simulated; prediction off by a log-normal factor)")
    print(f"{'servers':>8} {'conc.':>6} {'sigma':>6} " + " ".join(f"{s:>7}" for s in sizes))
    for servers, concurrency in cases:
        for noise in (0.0, 0.5, 1.0):
            lengths, predicted = fleet(servers, args.seed, noise)
            bound = lower_bound(lengths, concurrency)
            ratios = [
                makespan(lengths, plan_shards(predicted, size, concurrency)) / bound
                for size in sizes
            ]
            print(
                f"{servers:>8,} {concurrency:>6} {noise:>6} "
                + " ".join(f"{r:>7.3f}" for r in ratios)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
