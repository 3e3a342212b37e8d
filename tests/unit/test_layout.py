"""The orchestrators stay readable: short named steps, as issue 11 set them out.

Ruff's PLR0911/0912/0915 bound returns, branches and statements; this bounds length, which
they do not (a long run of straight-line code is as hard to follow as a branchy one).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The longest a function in orchestrators/ may be, docstring included.
MAX_LINES = 60


def _functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.name, (node.end_lineno or node.lineno) - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def test_no_orchestrator_function_is_longer_than_sixty_lines() -> None:
    files = sorted((ROOT / "orchestrators").glob("*.py"))
    assert len(files) >= 8
    long = [
        f"{path.name}:{name} ({lines} lines)"
        for path in files
        for name, lines in _functions(path)
        if lines > MAX_LINES
    ]
    assert not long, long


def test_the_measure_sees_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    sample = tmp_path / "sample.py"
    sample.write_text(f"def long():\n{body}\n", encoding="utf-8")
    assert _functions(sample) == [("long", MAX_LINES + 1)]
