"""How long a test waits for something that must happen.

No test may depend on the machine's speed or load (``make test`` runs on busy 2-core CI machines
too), so a wait is never a statement about how fast something is: it is a bound that only a hang
(a bug) reaches, however loaded the machine. Speed is measured by ``make bench``, not asserted.
"""

#: The bound on every wait in the tests: HTTP calls on loopback, orchestrations, processes.
HANG_SECONDS = 300.0
