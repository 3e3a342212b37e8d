"""The domain package loads what a caller uses, and nothing more."""

from __future__ import annotations

import subprocess
import sys

import pytest

import mysqlexport
from tests.waits import HANG_SECONDS


def test_the_pure_polling_rules_load_no_http_library() -> None:
    probe = (
        "import sys, mysqlexport.lro, mysqlexport.rules, mysqlexport.report; "
        "loaded = [m for m in ('requests', 'urllib3', 'azure.identity', 'mysqlexport.arm') "
        "if m in sys.modules]; print(','.join(loaded))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=HANG_SECONDS,
    )
    assert done.stdout.strip() == ""


def test_every_public_name_resolves_from_its_module() -> None:
    for name in mysqlexport.__all__:
        value = getattr(mysqlexport, name)
        assert value.__name__ == name


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = mysqlexport.Nope  # type: ignore[attr-defined]
