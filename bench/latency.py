"""Where the app's detection latency goes in the peer scenario (a diagnostic, not a target).

    python -m bench.latency                    # 100 servers, concurrency 20, x250, as make bench
    python -m bench.latency --workers 0        # orchestrator code in the host's own process
    python -m bench.latency --scale 100        # as make bench-peers

Runs scenario 2's app leg (``bench.scenarios.peer_app``'s arrangement) and reads, for each server
whose export the app saw end by polling, five instants in emulated seconds (``Timeline``): the
emulator's end of the export, when the last poll's timer was due, its ``TimerFired`` event, the
``TaskCompleted`` of the read that saw the end, and the ``export_server`` orchestration's
completion. The latency, end to completion, is divided among the steps under way after the end:

* ``poll timing``: the end to the instant the last poll's timer was due (how well the wait aimed);
* ``timer firing``: that instant to the ``TimerFired`` event (the host getting round to it);
* ``status read``: ``TimerFired`` to ``TaskCompleted`` of the read (an episode, then the GET);
* ``completion``: ``TaskCompleted`` to the orchestration's completion (the final episode).

A timer may be due *before* the end: the wait aimed a little early (the polls home in on the end
from below), and the host's delay in firing it or reading carried the read past the end. That is
no latency of poll timing; the time after the end falls to the step that was under way, so every
part is the share of the latency that step holds, never negative, and the parts add up to the
total. How often and by how much the timers were due early is printed on its own (``early``). On
a scaled clock every real millisecond the host spends is ``scale`` milliseconds here, so on a busy
machine a timer due early is common; it is information, not a fault.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bench.scenarios import (
    PEER_WORKER_PROCESSES,
    accepted,
    peer_app_stack,
    percentile,
    run_watched,
)
from devhost.protocol import EventType, event_type
from mysqlexport.ids import ServerId
from workflow.instance_ids import server_instance_id

PARTS = ("poll timing", "timer firing", "status read", "completion", "total")


@dataclass(frozen=True)
class Timeline:
    """One polled server's instants, in emulated seconds since the epoch."""

    end: float  # the export ended (the emulator's ground truth)
    due: float  # the last poll's timer was due (its FireAt)
    fired: float  # that timer's TimerFired event
    read: float  # TaskCompleted of the read that saw the end
    done: float  # the export_server orchestration completed (the app knew)

    @property
    def early(self) -> float:
        """How long before the end the last poll's timer was due (0 when it was due after)."""
        return max(0.0, self.end - self.due)

    def parts(self) -> dict[str, float]:
        """The latency (end to completion) divided among the steps under way after the end:
        each step's interval, cut to the time after the end (see the module's docstring)."""
        steps = (self.due, self.fired, self.read, self.done)
        bounds = list(itertools.accumulate(steps, max, initial=self.end))
        shares = [later - earlier for earlier, later in itertools.pairwise(bounds)]
        return dict(zip(PARTS, [*shares, self.done - self.end], strict=True))


def by_part(timelines: Sequence[Timeline]) -> dict[str, list[float]]:
    """Per part, its seconds for every server, in the order of ``timelines``."""
    parts: dict[str, list[float]] = {part: [] for part in PARTS}
    for timeline in timelines:
        for part, seconds in timeline.parts().items():
            parts[part].append(seconds)
    return parts


def _at(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


def split(servers: int, concurrency: int, seed: int, scale: float, workers: int) -> list[Timeline]:
    """The timeline of every server whose export the app saw end by polling."""
    timelines: list[Timeline] = []
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
            timelines.append(
                Timeline(
                    end=float(truth[name]["ends_at"]),
                    due=to_emulated(_at(str(fired[-1]["FireAt"]))),
                    fired=to_emulated(_at(str(fired[-1]["Timestamp"]))),
                    read=to_emulated(_at(str(read[-1]["Timestamp"]))),
                    done=to_emulated(known[name]),
                )
            )
    return timelines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=100)
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
    timelines = split(args.servers, args.concurrency, args.seed, args.scale, args.workers)
    print(
        f"detection latency by part, emulated seconds ({args.servers} servers, concurrency "
        f"{args.concurrency}, x{args.scale:g}, {args.workers} worker processes)"
    )
    print(f"  {'part':<14} {'servers':>7} {'p50':>7} {'p95':>7} {'max':>7}")
    for part, values in by_part(timelines).items():
        p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
        if p50 is None or p95 is None:
            continue
        print(f"  {part:<14} {len(values):>7} {p50:>7.1f} {p95:>7.1f} {max(values):>7.1f}")
    early = [t.early for t in timelines if t.early > 0]
    if early:
        print(
            f"  the last poll's timer was due before the end for {len(early)} of "
            f"{len(timelines)} servers (by up to {max(early):.1f} s; the host's delay made "
            "its read see the end)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
