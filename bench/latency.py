"""Where the app's detection latency goes in the peer scenario (a diagnostic, not a target).

    python -m bench.latency                    # 200 servers, concurrency 20, x250, as make bench
    python -m bench.latency --workers 0        # orchestrator code in the host's own process

Runs scenario 2's app leg (``bench.scenarios.peer_app``'s arrangement) and splits each server's
latency — the emulator's end of its export to its ``export_server`` orchestration's completion —
by the timestamps of the orchestration's own history, in emulated seconds:

* ``poll timing``: the end to the instant the last poll's timer was due (how well the wait aimed);
* ``timer firing``: that instant to the ``TimerFired`` event (the host getting round to it);
* ``status read``: ``TimerFired`` to ``TaskCompleted`` of the read (an episode, then the GET);
* ``completion``: ``TaskCompleted`` to the orchestration's completion (the final episode).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime

from bench.scenarios import (
    PEER_WORKER_PROCESSES,
    accepted,
    peer_app_stack,
    percentile,
    run_watched,
)
from devhost.protocol import EventType, event_type
from mysqlexport.durable_ids import server_instance_id
from mysqlexport.ids import ServerId

PARTS = ("poll timing", "timer firing", "status read", "completion", "total")


def _at(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


def split(
    servers: int, concurrency: int, seed: int, scale: float, workers: int
) -> dict[str, list[float]]:
    """Per part, the emulated seconds it took for every server whose export the app saw end."""
    parts: dict[str, list[float]] = {part: [] for part in PARTS}
    with peer_app_stack(servers, seed, scale, workers) as (stack, host_clock):
        run = run_watched(stack, concurrency)
        truth = accepted(stack.emu.exports())
        known = stack.known_at(run)
        to_emulated = host_clock.emulated
        for row in run.report["servers"]:
            server = ServerId.parse(row["id"])
            instance = stack.host.store.get(server_instance_id(run.run_id, server.key))
            if instance is None:
                continue
            name = server.name
            fired = [e for e in instance.history if event_type(e) is EventType.TIMER_FIRED]
            read = [e for e in instance.history if event_type(e) is EventType.TASK_COMPLETED]
            if name not in truth or name not in known or not fired or not read:
                continue  # answered at submission, or ended without polling
            end = float(truth[name]["ends_at"])
            due = to_emulated(_at(str(fired[-1]["FireAt"])))
            fired_at = to_emulated(_at(str(fired[-1]["Timestamp"])))
            read_at = to_emulated(_at(str(read[-1]["Timestamp"])))
            done = to_emulated(known[name])
            for part, seconds in zip(
                PARTS,
                (due - end, fired_at - due, read_at - fired_at, done - read_at, done - end),
                strict=True,
            ):
                parts[part].append(seconds)
    return parts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--scale", type=float, default=250.0)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--workers",
        type=int,
        default=PEER_WORKER_PROCESSES,
        help="orchestrator worker processes (0: in the host's process)",
    )
    args = parser.parse_args(argv)
    parts = split(args.servers, args.concurrency, args.seed, args.scale, args.workers)
    print(
        f"detection latency by part, emulated seconds ({args.servers} servers, concurrency "
        f"{args.concurrency}, x{args.scale:g}, {args.workers} worker processes)"
    )
    print(f"  {'part':<14} {'servers':>7} {'p50':>7} {'p95':>7} {'max':>7}")
    for part, values in parts.items():
        p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
        if p50 is None or p95 is None:
            continue
        print(f"  {part:<14} {len(values):>7} {p50:>7.1f} {p95:>7.1f} {max(values):>7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
