"""The soak: a 500-server fleet export under faults, crashes and restarts, judged by ground truth.

``python -m soak`` (``make soak``) runs the real app on devhost against the ARM emulator on one
virtual clock, seeded end to end. The emulator answers 500/503s, resets connections, ends some
exports Failed, answers 409 while a foreign export runs and throttles per subscription; devhost
loses activity results after their side effects and restarts the whole host (a new engine on the
same durable store) mid-run. When the run finishes, its report is compared server by server with
what the emulator really did (``soak.truth``), and everything the app persisted or logged is
scanned for credentials (``soak.leaks``).

Modules: ``harness`` (build the stack, drive the run, inject restarts), ``truth`` (report vs
ground truth, as a pure function), ``leaks`` (secret scanning), ``histories`` (recorded
orchestration histories for the determinism guard), ``__main__`` (CLI and the printed figures).
"""

from soak.harness import SoakConfig, SoakResult, run_soak
from soak.truth import Verdict, judge

__all__ = ["SoakConfig", "SoakResult", "Verdict", "judge", "run_soak"]
