"""The product's import graph keeps its floors and has no circle (``.importlinter``).

The first test runs the check on this repository, as ``make imports`` does, so CI fails on a
circle or an import across floors. The others run the same configuration over small packages
written to break one rule each, so a contract that could never fail would fail here.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.import_contracts import import_circles
from tests.waits import HANG_SECONDS

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".importlinter"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the project's configuration, on the packages found in ``cwd``."""
    env = os.environ | {"PYTHONPATH": str(ROOT), "COLUMNS": "300", "NO_COLOR": "1"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(CONFIG)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
        check=False,
    )


def contract_names() -> dict[str, str]:
    """Each contract's id (the section's last part) and the name the report shows."""
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    prefix = "importlinter:contract:"
    return {s.removeprefix(prefix): parser[s]["name"] for s in parser if s.startswith(prefix)}


def broken(report: str) -> set[str]:
    return {key for key, name in contract_names().items() if f"{name} BROKEN" in report}


def test_the_products_import_graph_keeps_every_contract() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(contract_names())} kept, 0 broken." in done.stdout


#: A small product that keeps every contract: each floor imports the one below.
CLEAN = {
    "triggers/__init__.py": "import workflow\nimport mysqlexport\n",
    "orchestrators/__init__.py": "import workflow\n",
    "activities/__init__.py": "import mysqlexport.lro\n",
    "workflow/__init__.py": "import mysqlexport\n",
    "mysqlexport/__init__.py": "",
    "mysqlexport/lro.py": "import math\n",
    "mysqlexport/errors.py": "",
    "mysqlexport/models.py": "from mysqlexport import errors\n",
}

TYPE_CHECKING_IMPORT = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import {}\n"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, set()),
        (  # errors -> models -> errors, if only for the type checker
            {"mysqlexport/errors.py": TYPE_CHECKING_IMPORT.format("mysqlexport.models")},
            {"no-circles", "no-package-circles"},
        ),
        (  # models -> errors -> the package -> models: acyclic_siblings does not see this one
            {
                "mysqlexport/__init__.py": "from mysqlexport import models\nNAME = 1\n",
                "mysqlexport/errors.py": "from mysqlexport import NAME\n",
            },
            {"no-circles"},
        ),
        ({"mysqlexport/models.py": "import workflow\n"}, {"layers"}),
        ({"orchestrators/__init__.py": "import activities\n"}, {"layers"}),
        (
            {"triggers/__init__.py": "import orchestrators.x\n", "orchestrators/x.py": ""},
            {"layers"},
        ),
        ({"workflow/__init__.py": "import function_app\n"}, {"top"}),
        ({"mysqlexport/models.py": "import azure.functions as func\n"}, {"domain"}),
        ({"mysqlexport/errors.py": "from azure.durable_functions import Blueprint\n"}, {"domain"}),
        (  # lro -> errors -> requests
            {
                "mysqlexport/lro.py": "from mysqlexport import errors\n",
                "mysqlexport/errors.py": "import requests\n",
            },
            {"pure-rules"},
        ),
    ],
)
def test_each_contract_fails_on_what_it_forbids(
    tmp_path: Path, changes: dict[str, str], expected: set[str]
) -> None:
    for path, text in (CLEAN | changes).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    done = lint_imports(tmp_path)
    assert "Contracts:" in done.stdout, done.stdout + done.stderr
    assert broken(done.stdout) == expected, done.stdout
    assert (done.returncode == 0) == (not expected)


@pytest.mark.parametrize(
    ("imports", "circles"),
    [
        ({}, []),
        ({"a": {"b"}, "b": set()}, []),
        ({"a": {"a"}}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c", "a"}}, [["a", "b"], ["c", "d"]]),
        ({"a": {"outside"}, "b": {"a"}}, []),
    ],
)
def test_import_circles_are_the_strongly_connected_groups(
    imports: dict[str, set[str]], circles: list[list[str]]
) -> None:
    assert import_circles(imports) == circles


def test_a_long_chain_does_not_recurse() -> None:
    chain = {f"m{i}": {f"m{i + 1}"} for i in range(5_000)} | {"m5000": {"m0"}}
    assert [len(c) for c in import_circles(chain)] == [5_001]
