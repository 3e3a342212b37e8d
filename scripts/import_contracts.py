"""An import-linter contract type for what its own types leave out: no import circle at all.

import-linter's ``acyclic_siblings`` finds circles between the children of a package, but not
one through the package itself (``pkg/__init__.py`` importing ``pkg.a`` while ``pkg.a`` imports
a name from ``pkg``). ``acyclic_modules`` looks at every module of the ``containers`` and reports
each strongly connected group of them (Tarjan's algorithm over grimp's graph), so "the import
graph has no circle" holds module by module. Imports under ``if TYPE_CHECKING:`` count, as grimp
counts them by default: a circle a reader must follow is a circle even if Python never runs it.

Registered in ``.importlinter`` (``contract_types``); ``make imports`` runs it with the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import cast

import grimp
from importlinter import Contract, ContractCheck, fields, output


def import_circles(imports: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every group of two or more modules that import one another, each sorted, in order.

    ``imports`` maps a module to the modules it imports directly; modules it names that are not
    keys are outside the graph looked at. Iterative, so a long chain cannot hit the recursion
    limit.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    for root in sorted(imports):
        if root in index:
            continue
        work = [(root, iter(sorted(m for m in imports[root] if m in imports)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, pending = work[-1]
            step = next(pending, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(m for m in imports[step] if m in imports))))
                elif step in on_stack:
                    low[module] = min(low[module], index[step])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                group: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == module:
                        break
                if len(group) > 1:
                    circles.append(sorted(group))
    return sorted(circles)


class AcyclicModulesContract(Contract):
    """No module of ``containers`` (packages, with all their modules) is in an import circle."""

    type_name = "acyclic_modules"

    containers = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        # import-linter sets each field on the instance to its parsed value (a list here).
        containers = cast("list[str]", self.containers)
        modules: set[str] = set()
        for container in containers:
            modules |= {container} | graph.find_descendants(container)
        imports = {m: graph.find_modules_directly_imported_by(m) & modules for m in modules}
        circles = import_circles(imports)
        output.verbose_print(verbose, f"{len(modules)} modules, {len(circles)} import circles.")
        return ContractCheck(kept=not circles, metadata={"circles": circles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for circle in check.metadata["circles"]:
            output.print_error(f"These modules import one another: {', '.join(circle)}")
            output.new_line()
