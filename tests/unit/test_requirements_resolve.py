"""requirements.txt installs on every Python version the app claims, from wheels alone.

The claimed versions are pyproject.toml's classifiers (the README names the same). For each, pip
resolves requirements.txt from PyPI as a remote build on Linux x86-64 installs it: that Python's
wheel tags and Requires-Python, manylinux wheels, no sdist (``--only-binary=:all:``), nothing
installed (``--dry-run --ignore-installed``, a throwaway ``--target``), and no local pip
configuration (``--isolated``, ``PIP_CONFIG_FILE=os.devnull``: a find-links directory of this
machine must not supply what PyPI lacks).

pip evaluates environment markers (``; python_version >= "3.13"``), its own and those of every
dependency, against the interpreter running it, whatever ``--python-version`` says (pypa/pip
#11010, #13296), so the child pip here gets the target's marker environment instead; the test
then checks from pip's report that the marker chose the target's line (the 2.x azure-functions
on 3.13, 1.x below), which it cannot do unless the markers were evaluated for the target.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.waits import HANG_SECONDS

ROOT = Path(__file__).resolve().parents[2]
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")

#: Runs pip in the child with the target's marker environment (PEP 508) in place of this
#: interpreter's, after checking that pip's marker evaluation really sees it. pip before 24.2
#: checked a package's Requires-Python against this interpreter in ``install`` (requirements-dev
#: pins a newer one).
_PIP_FOR_TARGET = """
import json, sys
import pip
assert tuple(map(int, pip.__version__.split(".")[:2])) >= (24, 2), f"pip {pip.__version__}"
from pip._vendor.packaging import markers
environment = json.loads(sys.argv[1])
markers.default_environment = lambda: dict(environment)
assert markers.Marker(f'python_full_version == "{environment["python_full_version"]}"').evaluate()
from pip._internal.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def claimed_versions() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    prefix = "Programming Language :: Python :: "
    versions = [c.removeprefix(prefix) for c in project["classifiers"] if c.startswith(prefix)]
    return [v for v in versions if v.count(".") == 1]


def marker_environment(version: str) -> dict[str, str]:
    """What PEP 508 markers see on the Functions host's Linux x86-64 CPython ``version``."""
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{version}.0",
        "os_name": "posix",
        "platform_machine": "x86_64",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": f"{version}.0",
        "python_version": version,
        "sys_platform": "linux",
    }


def resolve(requirements: Path, version: str, work: Path) -> dict[str, str]:
    """Name -> version of everything pip would install for ``version``; fails if it cannot."""
    report = work / "report.json"
    pip = [
        "--isolated",
        "install",
        "--dry-run",
        "--ignore-installed",
        "--only-binary=:all:",
        "--python-version",
        version,
        "--implementation",
        "cp",
        *(f"--platform={platform}" for platform in PLATFORMS),
        "--target",
        str(work / "target"),
        "--report",
        str(report),
        "--quiet",
        "--disable-pip-version-check",
        "-r",
        str(requirements),
    ]
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    done = subprocess.run(
        [sys.executable, "-c", _PIP_FOR_TARGET, json.dumps(marker_environment(version)), *pip],
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
        check=False,
    )
    assert done.returncode == 0, f"requirements do not install on Python {version}:\n{done.stderr}"
    installed: list[dict[str, Any]] = json.loads(report.read_text())["install"]
    return {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in installed}


def test_the_claims_agree() -> None:
    """pyproject's classifiers and requires-python say the same: 3.11, 3.12 and 3.13 (the code
    uses 3.11 features; Azure Functions offers 3.10 to 3.13)."""
    assert claimed_versions() == ["3.11", "3.12", "3.13"]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11,<3.14"
    readme = (ROOT / "README.md").read_text()
    assert "Python 3.11, 3.12 and 3.13" in readme


@pytest.mark.parametrize("version", claimed_versions())
def test_requirements_install_from_wheels_on_every_claimed_python(
    version: str, tmp_path: Path
) -> None:
    resolved = resolve(ROOT / "requirements.txt", version, tmp_path)
    assert {"azure-functions", "azure-functions-durable", "azure-identity"} <= set(resolved)
    # the marker chose this version's azure-functions line (so markers saw this version)
    major = "2" if tuple(map(int, version.split("."))) >= (3, 13) else "1"
    assert resolved["azure-functions"].split(".")[0] == major


def test_a_pin_that_cannot_install_on_a_claimed_python_fails(tmp_path: Path) -> None:
    """What requirements.txt said before the markers: azure-functions 1.26 on every Python."""
    pinned = tmp_path / "requirements.txt"
    pinned.write_text("azure-functions>=1.26,<2\nazure-functions-durable>=1.7,<2\n")
    (tmp_path / "work").mkdir()
    with pytest.raises(AssertionError, match=r"do not install on Python 3\.13"):
        resolve(pinned, "3.13", tmp_path / "work")
