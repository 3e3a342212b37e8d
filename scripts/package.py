"""`make package`: the zip that `azd deploy` or `func pack` would upload, built by .funcignore.

The package is the app's source as the deploying tools zip it: every file under the app root that
.funcignore does not exclude, read with standard gitignore rules as azd reads them (Microsoft
Learn, "Configure service packaging file exclusions"), a folder the rules exclude skipped whole
(azd's createDeployableZip walks the tree and does not descend into one; git does the same), and
the files both tools always leave out left out here too (.funcignore's header cites them). The
dependencies are not in it: Azure installs requirements.txt when it builds the app (remote build),
which is what ``tests/package`` does in a fresh virtual environment.

The zip is reproducible: entries sorted, one fixed timestamp, Unix permissions 0644 (Core Tools
marks its entries as made on Unix the same way: ZipHelper.CreateZip).

    python -m scripts.package [--out dist/mysql-fleet-export.zip] [--list]
"""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pathspec import PathSpec
from pathspec.pattern import Pattern

ROOT = Path(__file__).resolve().parents[1]
IGNORE_FILE = ".funcignore"
DEFAULT_OUT = ROOT / "dist" / "mysql-fleet-export.zip"

#: Folders and files the deploying tools leave out whatever .funcignore says, by name at any depth:
#: Core Tools' GetLocalFiles (.git, .vscode; .funcignore, .gitignore, local.settings.json,
#: project.lock.json) and azd's createDeployableZip (.azure; local.settings.json, .funcignore).
ALWAYS_LEFT_OUT_FOLDERS = frozenset({".git", ".vscode", ".azure"})
ALWAYS_LEFT_OUT_FILES = frozenset(
    {".funcignore", ".gitignore", "local.settings.json", "project.lock.json"}
)

#: What the Functions host needs at the package's root to run a Python v2 app (`func pack` checks
#: for host.json, requirements.txt and the v2 model's function_app.py before it packs).
REQUIRED = ("function_app.py", "host.json", "requirements.txt")

#: 1980-01-01, the earliest time a zip entry can carry: the same bytes whenever it is built.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_UNIX = 3  # "made by" Unix, so the permission bits below are read on Linux
_MODE = 0o100644  # a regular file, rw-r--r--


class PackageError(Exception):
    """The app root cannot make a package the host would run."""


@dataclass(frozen=True)
class Package:
    """A built package: where it is and what went in."""

    path: Path
    files: tuple[str, ...]  # paths inside the zip, "/"-separated, sorted
    unpacked_bytes: int

    @property
    def zipped_bytes(self) -> int:
        return self.path.stat().st_size


def load_rules(root: Path) -> PathSpec[Pattern]:
    """The app root's .funcignore as gitignore patterns; the package must have one.

    Plain ``PathSpec`` (the last matching pattern decides), not pathspec's ``GitIgnoreSpec``:
    that one lets a pattern matching a file beat a later one matching its folder, which emulates
    git for a flat list of paths; here the walk asks about each folder before entering it, as git
    and azd do, and with that priority a later ``__pycache__/`` would lose to ``!/triggers/**``.
    """
    ignore = root / IGNORE_FILE
    if not ignore.is_file():
        raise PackageError(f"{ignore} is missing: without it every file would be deployed.")
    return PathSpec.from_lines("gitignore", ignore.read_text(encoding="utf-8").splitlines())


def package_files(root: Path, rules: PathSpec[Pattern] | None = None) -> list[str]:
    """Every file under ``root`` the package holds, as "/"-separated relative paths, sorted."""
    rules = rules if rules is not None else load_rules(root)
    kept: list[str] = []
    for folder, subfolders, files in os.walk(root):
        here = Path(folder).relative_to(root).as_posix()
        prefix = "" if here == "." else f"{here}/"
        subfolders[:] = sorted(
            name
            for name in subfolders
            if name not in ALWAYS_LEFT_OUT_FOLDERS and not rules.match_file(f"{prefix}{name}/")
        )
        kept.extend(
            f"{prefix}{name}"
            for name in files
            if name not in ALWAYS_LEFT_OUT_FILES and not rules.match_file(f"{prefix}{name}")
        )
    return sorted(kept)


def build(root: Path = ROOT, out: Path = DEFAULT_OUT) -> Package:
    """Write the package of the app at ``root`` to ``out`` (replacing it) and describe it."""
    files = package_files(root)
    missing = [name for name in REQUIRED if name not in files]
    if missing:
        raise PackageError(f"The package would lack {', '.join(missing)}: check {IGNORE_FILE}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f"{out.name}.partial")
    unpacked = 0
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in files:
            data = (root / name).read_bytes()
            unpacked += len(data)
            entry = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            entry.create_system = _UNIX
            entry.external_attr = _MODE << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    partial.replace(out)
    return Package(path=out, files=tuple(files), unpacked_bytes=unpacked)


def describe(package: Package, root: Path = ROOT) -> str:
    """What went in: the path, the file count and sizes, and the count per top-level entry."""
    try:
        shown = package.path.resolve().relative_to(root)
    except ValueError:
        shown = package.path
    tops = Counter(name.split("/", 1)[0] + ("/" if "/" in name else "") for name in package.files)
    lines = [
        f"{shown}: {len(package.files)} files, {package.unpacked_bytes / 1024:.1f} KiB "
        f"({package.zipped_bytes / 1024:.1f} KiB zipped)"
    ]
    lines += [f"  {top:<20} {count:>3}" for top, count in sorted(tops.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.package", description="Build the deployment package."
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the zip to write")
    parser.add_argument("--list", action="store_true", help="also print every file in it")
    args = parser.parse_args(argv)
    try:
        package = build(ROOT, args.out)
    except PackageError as err:
        print(f"package: {err}", file=sys.stderr)
        return 1
    print(describe(package))
    if args.list:
        print("\n".join(package.files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
