"""How the two deploying tools read .funcignore, ported from their source to list what each uploads.

``scripts/package.py`` reads .funcignore with git's rules (pathspec). The tools that deploy the app
read it with their own matchers, which are not git's, so the package test asks each of them too:

- **azd** (``azd deploy``/``azd up``): ``createDeployableZip`` in Azure/azure-dev
  ``cli/azd/pkg/project/project_utils.go`` walks the service folder with ``rzip.addDir``
  (``cli/azd/pkg/rzip/rzip.go``): each entry, file or folder, is asked once; an excluded folder
  is not entered. It always leaves out ``.azure`` folders, the ignore file and
  ``local.settings.json``; the rest is ``ignorer.Absolute(path, isDir)`` of denormal/go-gitignore
  (``gitignore.go`` ``Relative``: the last pattern that matches decides; ``pattern.go``: a pattern
  without ``/`` inside is a *name* pattern, matched with ``fnmatch`` flags 0 against the whole
  relative path when anchored (so ``*`` crosses ``/``) or the last component when not; one with
  ``**`` is an *any* pattern, matched component by component, ``**`` taking zero or more
  components; a trailing ``/`` restricts it to folders).
- **Core Tools** (``func azure functionapp publish``, ``func pack``): ``ZipHelper.GetAppZipFile``
  zips ``FileSystemHelpers.GetLocalFiles`` (every file below the root, but in ``.git`` and
  ``.vscode`` folders and named ``.funcignore``, ``.gitignore``, ``local.settings.json``,
  ``project.lock.json``, compared without case) that ``GitIgnoreParser.Accepts`` (Azure/
  azure-functions-core-tools ``src/Cli/func/Common/GitIgnoreParser.cs``): every pattern, its
  leading ``/`` dropped, becomes a regular expression matched from the start of the path and
  followed by ``\\b``; a path is accepted when a ``!`` pattern matches it or no other one does.

The ports cover the pattern shapes .funcignore may use (its header says which); a line of another
shape (spaces, escapes, brackets, ``/`` inside a pattern without ``**``) raises, so the file cannot
grow a line whose reading by the tools the test does not know.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_UNSUPPORTED = re.compile(r"[\s\\\[\]]")


@dataclass(frozen=True)
class _GoPattern:
    """One line as denormal/go-gitignore compiles it (``NewPattern``, ``compile``)."""

    negated: bool
    anchored: bool
    folders_only: bool
    parts: tuple[str, ...]  # "any" patterns: the components, "**" among them; else one glob

    @property
    def is_any(self) -> bool:
        return "**" in self.parts

    def matches(self, path: str, is_dir: bool) -> bool:
        if self.folders_only and not is_dir:
            return False
        if self.is_any:
            return _match_components(path.split("/"), self.parts)
        glob = self.parts[0]
        return fnmatch.fnmatchcase(path if self.anchored else path.rsplit("/", 1)[-1], glob)


def _match_components(path: list[str], tokens: tuple[str, ...]) -> bool:
    """go-gitignore's ``any.match``: ``**`` takes zero or more components, a glob exactly one."""
    if not tokens:
        return not path
    if tokens[0] == "**":
        return _match_components(path, tokens[1:]) or (
            bool(path) and _match_components(path[1:], tokens)
        )
    return (
        bool(path)
        and fnmatch.fnmatchcase(path[0], tokens[0])
        and _match_components(path[1:], tokens[1:])
    )


def _pattern_lines(text: str) -> list[str]:
    lines = [line for line in text.split("\n") if line and not line.startswith("#")]
    for line in lines:
        if _UNSUPPORTED.search(line):
            raise ValueError(f".funcignore line {line!r}: a shape the ports do not model")
    return lines


def _go_pattern(line: str) -> _GoPattern:
    negated = line.startswith("!")
    body = line.removeprefix("!")
    anchored = body.startswith("/")
    body = body.removeprefix("/")
    folders_only = body.endswith("/")
    body = body.removesuffix("/")
    if "**" in body:
        return _GoPattern(negated, anchored, folders_only, tuple(body.split("/")))
    if "/" in body:
        raise ValueError(
            f".funcignore line {line!r}: a path pattern, which the port does not model"
        )
    return _GoPattern(negated, anchored, folders_only, (body,))


def azd_files(root: Path, ignore_text: str) -> list[str]:
    """The files azd's createDeployableZip puts in the zip, "/"-separated and sorted."""
    patterns = [_go_pattern(line) for line in _pattern_lines(ignore_text)]

    def ignored(rel: str, is_dir: bool) -> bool:
        for pattern in reversed(patterns):  # the last pattern that matches decides
            if pattern.matches(rel, is_dir):
                return not pattern.negated
        return False

    kept: list[str] = []

    def walk(folder: Path, prefix: str) -> None:
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            is_dir = entry.is_dir()
            rel = f"{prefix}{entry.name}"
            if (is_dir and entry.name == ".azure") or (
                not is_dir and entry.name in (".funcignore", "local.settings.json")
            ):
                continue
            if ignored(rel, is_dir):
                continue
            if is_dir:
                walk(Path(entry.path), f"{rel}/")
            else:
                kept.append(rel)

    walk(root, "")
    return sorted(kept)


def _core_tools_regex(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """``GitIgnoreParser``'s regular expression for one side (``$^`` when it has no pattern)."""
    parts = [
        re.sub(r"[\-\[\]\/\{\}\(\)\+\?\.\\\^\$\|]", lambda m: "\\" + m.group(0), p)
        .replace("**", "(.+)")
        .replace("*", r"([^\/]+)")
        for p in sorted(patterns)
    ]
    if not parts:
        return None
    return re.compile("^((" + ")|(".join(parts) + r"))\b", re.ASCII)


_CORE_TOOLS_SKIPPED_FOLDERS = frozenset({".git", ".vscode"})
_CORE_TOOLS_SKIPPED_FILES = frozenset(
    {".funcignore", ".gitignore", "local.settings.json", "project.lock.json"}
)


def core_tools_files(root: Path, ignore_text: str) -> list[str]:
    """The files Core Tools' ``GetLocalFiles`` passes to the zip, "/"-separated and sorted."""
    positive: list[str] = []
    negative: list[str] = []
    for raw in ignore_text.split("\n"):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        side = negative if line.startswith("!") else positive
        side.append(line.removeprefix("!").removeprefix("/"))
    plus, minus = _core_tools_regex(positive), _core_tools_regex(negative)

    def accepts(rel: str) -> bool:
        return bool(minus and minus.search(rel)) or not (plus and plus.search(rel))

    kept: list[str] = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [d for d in subfolders if d.lower() not in _CORE_TOOLS_SKIPPED_FOLDERS]
        here = Path(folder).relative_to(root).as_posix()
        prefix = "" if here == "." else f"{here}/"
        kept.extend(
            f"{prefix}{name}"
            for name in files
            if name.lower() not in _CORE_TOOLS_SKIPPED_FILES and accepts(f"{prefix}{name}")
        )
    return sorted(kept)
