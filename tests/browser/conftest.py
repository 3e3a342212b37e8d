"""Headless Chromium for the page's tests: Debian's chromium, installed with apt-get when it is
missing (scripts.report_page.install_chromium); a test is skipped, saying why, only where it
cannot be installed. The e2e stack (the app on devhost against the ARM emulator) makes the runs."""

from __future__ import annotations

import pytest

from scripts.report_page import install_chromium
from tests.e2e.conftest import make_stack, stack

__all__ = ["chromium", "make_stack", "stack"]


@pytest.fixture(scope="session")
def chromium() -> None:
    why = install_chromium()
    if why is not None:
        pytest.skip(f"headless Chromium is not available and could not be installed: {why}")
