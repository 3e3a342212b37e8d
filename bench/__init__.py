"""Benchmarks of issue 4: makespan against the lower bound, the app against the official SDK,
orchestration cost as the fleet grows, and ARM throttling - all against the emulator, seeded.

``python -m bench`` (``make bench``) and ``python -m bench --quick`` (``make bench-quick``);
see ``docs/performance.md`` for the figures and what limits them.
"""
