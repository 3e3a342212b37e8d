"""The end-to-end stack (app on devhost, ARM emulator, one virtual clock) for these tests too."""

from tests.e2e.conftest import make_stack, stack

__all__ = ["make_stack", "stack"]
