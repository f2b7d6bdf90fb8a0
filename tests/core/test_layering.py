"""The core's modules import each other in one direction (module- and function-level imports).

Imports under `if TYPE_CHECKING:` do not count: they never run. The stores (`_health`,
`_spend`, `_state`, `_redis`, `_redis_stores`) still form one known cycle (issue 13's shared
state); any other cycle fails this test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import hfproviders

CORE = Path(hfproviders.__file__).parent
KNOWN = {"_health", "_spend", "_state", "_redis", "_redis_stores"}


def _imports(path: Path, modules: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for statement in block.body
        for node in ast.walk(statement)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only or not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        if node.module.startswith("hfproviders._"):
            found.add(node.module.split(".")[1])
        elif node.module == "hfproviders":
            found.update(alias.name for alias in node.names)
    return (found & modules) - {path.stem}


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in graph:
        if node not in index:
            visit(node)
    return components


def test_core_modules_have_no_import_cycle_but_the_known_one() -> None:
    paths = {path.stem: path for path in CORE.glob("_*.py") if path.stem != "__init__"}
    graph = {name: _imports(path, set(paths)) for name, path in paths.items()}
    assert graph["_types"] == {"_headers"} and not graph["_headers"]  # the test sees imports
    assert [c for c in _cycles(graph) if not c <= KNOWN] == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [{"a", "b", "c"}]
