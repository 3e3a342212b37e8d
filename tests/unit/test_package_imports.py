"""The domain package loads what a caller uses, and nothing more."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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
    homes = mysqlexport._HOMES
    assert sorted(homes) == sorted(mysqlexport.__all__)
    for name in mysqlexport.__all__:
        value = getattr(mysqlexport, name)
        assert value.__name__ == name
        assert value.__module__ == f"mysqlexport.{homes[name]}", name  # defined there


def test_what_the_type_checker_sees_is_what_loads() -> None:
    """The ``TYPE_CHECKING`` imports of ``mysqlexport/__init__.py`` are ``_HOMES``, name by name."""
    tree = ast.parse(Path(mysqlexport.__file__).read_text())
    guarded = next(
        n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
    )
    seen = {
        alias.name: node.module.removeprefix("mysqlexport.")
        for node in guarded.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    assert seen == mysqlexport._HOMES


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = mysqlexport.Nope  # type: ignore[attr-defined]
