"""The deployment package holds the app and nothing else, and the app runs from it alone.

``make package`` (scripts/package.py) zips what .funcignore lets through. These tests prove:

1. the package holds function_app.py, host.json, requirements.txt and the app's packages, every
   source file of them, and no file of the tooling (devhost, the ARM emulator, bench, soak, tests,
   scripts, docs, infra, the API description) nor any bytecode cache, and it is reproducible;
2. the two tools that deploy it read .funcignore the same way: azd (denormal/go-gitignore) uploads
   exactly the package, and Core Tools (its own GitIgnoreParser) exactly the package plus
   bytecode caches inside the app's folders, which its parser cannot leave out (tests/package/
   readers.py ports both from their source); on a tree with stray files (a request body, a .env,
   an old zip, local settings), none of them, nor git itself, lets a stray file through;
3. the package runs on requirements.txt alone: unpacked into a temporary folder, with
   requirements.txt installed into a new virtual environment, ``function_app`` imports from the
   unpacked folder and indexes every function with the same bindings as in the repository,
   loading no tooling package and no file from the repository.

How (3) installs, and why that is faithful and bounded: the environment is ``python -m venv
--without-pip`` (no pip, no setuptools: nothing requirements.txt did not bring), and the
development environment's pip installs requirements.txt into it (``pip --python``, pip >= 22.3),
with this machine's pip configuration as ``make venv`` uses it (its local wheel mirrors when it has
them, else PyPI; no other network). That is what a deployment's build does with the package:
pip installs requirements.txt and nothing else (Core Tools' local build, eng/tools/python/packapp,
downloads ``-r requirements.txt`` into an empty .python_packages; a remote build installs the same
file). Measured on a loaded 2-core machine: about 5 s for the install and 7 s for the whole file,
against 12 to 50 s when the new environment first bootstraps its own pip (ensurepip), which would
prove nothing more. Every step is bounded by ``HANG_SECONDS``; nothing is timed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from scripts.package import ALWAYS_LEFT_OUT_FILES, build, package_files
from tests.package.readers import azd_files, core_tools_files
from tests.waits import HANG_SECONDS
from workflow.names import ACTIVITIES, ORCHESTRATORS

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("probe.py")

#: The app's packages: the floors of .importlinter, which function_app.py composes.
APP_PACKAGES = frozenset({"triggers", "orchestrators", "activities", "workflow", "mysqlexport"})
#: What the package holds at its root.
APP_ROOT = APP_PACKAGES | {"function_app.py", "host.json", "requirements.txt"}
#: The repository's tooling packages: none may be in the package or be imported by the app.
TOOLING_PACKAGES = frozenset({"devhost", "armemulator", "bench", "soak", "tests", "scripts"})
#: Tooling folders that are not Python packages.
TOOLING_FOLDERS = frozenset({"docs", "infra", "api", "reports", "dist", ".venv", "tools"})


def _is_bytecode(name: str) -> bool:
    return "__pycache__" in name.split("/") or name.endswith(".pyc")


def _app_sources(root: Path) -> set[str]:
    """Every file of the app in the working tree, bytecode caches aside."""
    found = {name for name in ("function_app.py", "host.json", "requirements.txt")}
    for package in APP_PACKAGES:
        found |= {
            path.relative_to(root).as_posix()
            for path in (root / package).rglob("*")
            if path.is_file() and not _is_bytecode(path.relative_to(root).as_posix())
        }
    return found


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("dist") / "mysql-fleet-export.zip"
    return zipfile.ZipFile(build(ROOT, out).path)


# 1. What the package holds


def test_the_package_holds_the_app_at_its_root_and_nothing_else(package: zipfile.ZipFile) -> None:
    names = package.namelist()
    assert {name.split("/", 1)[0] for name in names} == APP_ROOT
    tooling = [n for n in names if n.split("/", 1)[0] in TOOLING_PACKAGES | TOOLING_FOLDERS]
    assert not tooling, tooling
    assert not [n for n in names if _is_bytecode(n)]


def test_the_package_holds_every_file_of_the_app_as_it_is(package: zipfile.ZipFile) -> None:
    assert set(package.namelist()) >= _app_sources(ROOT)
    for name in ("function_app.py", "host.json", "requirements.txt"):
        assert package.read(name) == (ROOT / name).read_bytes(), name


def test_every_top_level_package_of_the_repository_is_the_app_or_tooling() -> None:
    """A new top-level package must be placed: in the app (and .funcignore) or in the tooling."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    modules = {p.name for p in ROOT.glob("*.py")}
    assert packages - APP_PACKAGES - TOOLING_PACKAGES == set()
    assert modules == {"function_app.py"}


def test_the_package_is_the_same_bytes_each_time(tmp_path: Path) -> None:
    first = build(ROOT, tmp_path / "a.zip")
    second = build(ROOT, tmp_path / "b.zip")
    assert first.path.read_bytes() == second.path.read_bytes()
    with zipfile.ZipFile(first.path) as archive:
        modes = {info.external_attr >> 16 for info in archive.infolist()}
    assert modes == {0o100644}


# 2. The deploying tools read .funcignore as the package does


def test_azd_and_core_tools_upload_what_the_package_holds() -> None:
    ignore = (ROOT / ".funcignore").read_text(encoding="utf-8")
    ours = package_files(ROOT)
    assert azd_files(ROOT, ignore) == ours
    assert [n for n in core_tools_files(ROOT, ignore) if not _is_bytecode(n)] == ours


def test_stray_files_stay_out_for_every_reader(tmp_path: Path) -> None:
    app = {"function_app.py", "host.json", "requirements.txt", "mysqlexport/deep/nested.py"}
    app |= {f"{package}/__init__.py" for package in APP_PACKAGES}
    stray = {
        "request.json",  # the README's curl example reads it from the app root
        ".env",
        "local.settings.json",
        "triggers/local.settings.json",
        "mysql-fleet-export.zip",  # `func pack` writes <folder>.zip into the folder it packs
        "dist/mysql-fleet-export.zip",
        "requirements-dev.txt",
        "README.md",
        "tests/test_x.py",
        "devhost/__init__.py",
        "api/openapi.json",
        ".venv/pyvenv.cfg",
        ".azure/dev/.env",
        ".vscode/settings.json",
        ".git/config",
        "triggers_old/x.py",
    }
    bytecode = {"triggers/__pycache__/__init__.cpython-311.pyc", "__pycache__/function_app.pyc"}
    for name in app | stray | bytecode:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    ignore = (ROOT / ".funcignore").read_text(encoding="utf-8")
    (tmp_path / ".funcignore").write_text(ignore, encoding="utf-8")

    assert set(package_files(tmp_path)) == app
    assert set(azd_files(tmp_path, ignore)) == app
    # git has no names it always leaves out; the tools do (scripts.package cites them)
    by_git = {
        n for n in _git_reading(tmp_path) if n.rsplit("/", 1)[-1] not in ALWAYS_LEFT_OUT_FILES
    }
    assert by_git == app
    # Core Tools: a "!" line wins over every exclusion, so a cache inside triggers/ goes too.
    assert set(core_tools_files(tmp_path, ignore)) == app | {
        "triggers/__pycache__/__init__.cpython-311.pyc"
    }


def _git_reading(root: Path) -> set[str]:
    """The files git itself leaves unignored with .funcignore as the only exclude file."""
    git = ["git", "-c", "core.excludesFile=", "-C", str(root)]
    subprocess.run([*git, "init", "-q"], check=True, capture_output=True, timeout=HANG_SECONDS)
    listed = subprocess.run(
        [*git, "ls-files", "--others", "--exclude-from=.funcignore"],
        check=True,
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
    )
    return set(listed.stdout.splitlines())


def test_the_readers_refuse_a_line_they_do_not_model() -> None:
    with pytest.raises(ValueError, match="path pattern"):
        azd_files(ROOT, "/tests/unit\n")
    with pytest.raises(ValueError, match="shape"):
        azd_files(ROOT, "*.py  # trailing comment\n")


# 3. The package runs on requirements.txt alone


def _probe(python: Path | str, app_dir: Path) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), "-I", str(PROBE), str(app_dir)],
        cwd=app_dir,
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _fresh_environment_with_requirements(app_dir: Path, venv: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        capture_output=True,
        timeout=HANG_SECONDS,
    )
    python = venv / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-input", "--disable-pip-version-check", "-r", str(app_dir / "requirements.txt")],
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
        check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-4000:]
    return python


def _top_level(modules: dict[str, str | None]) -> set[str]:
    return {name.split(".", 1)[0] for name in modules}


def test_the_unpacked_package_indexes_every_function_on_its_requirements_alone(
    package: zipfile.ZipFile, tmp_path: Path
) -> None:
    app_dir = tmp_path / "wwwroot"
    package.extractall(app_dir)
    python = _fresh_environment_with_requirements(app_dir, tmp_path / "venv")

    deployed = _probe(python, app_dir)
    in_repository = _probe(sys.executable, ROOT)

    functions = deployed["functions"]
    assert deployed["indexed"] == len(functions)  # no name twice
    assert functions == in_repository["functions"]
    triggers = {name: {b["type"] for b in bindings} for name, bindings in functions.items()}
    for name in ORCHESTRATORS:
        assert "orchestrationTrigger" in triggers.get(name, set()), name
    for name in ACTIVITIES:
        assert "activityTrigger" in triggers.get(name, set()), name
    kinds = set().union(*triggers.values())
    assert {"httpTrigger", "timerTrigger"} <= kinds

    for run in (deployed, in_repository):
        assert not _top_level(run["modules"]) & TOOLING_PACKAGES, sorted(
            _top_level(run["modules"]) & TOOLING_PACKAGES
        )
    files = {name: file for name, file in deployed["modules"].items() if file}
    from_repository = {n: f for n, f in files.items() if Path(f).is_relative_to(ROOT)}
    assert not from_repository, from_repository
    assert Path(files["function_app"]).parent == app_dir
    assert Path(deployed["prefix"]) == tmp_path / "venv"
