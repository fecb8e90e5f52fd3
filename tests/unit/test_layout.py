"""The package's shape: no import cycles, no hidden imports, small modules and functions.

These are the promises of ARCHITECTURE.md that a reviewer would otherwise check by hand.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "c3render"
TOP_LEVEL = {"__init__", "errors", "job", "settings", "wsgi"}
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 50


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _targets(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The project's modules an import statement loads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in MODULES]
    module = node.module or ""
    if not module.startswith("c3render"):
        return []
    found = [f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in MODULES]
    return found or [module]


def _import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports at module level (function bodies excluded)."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        inside = {id(sub) for func in _functions(tree) for sub in ast.walk(func)}
        graph[name] = {
            target
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in inside
            for target in _targets(node)
        }
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert _cycles(_import_graph()) == []


def test_the_project_is_imported_at_module_top() -> None:
    """Only model libraries may be imported lazily; the project's own modules never."""
    lazy = []
    for name, path in MODULES.items():
        for func in _functions(ast.parse(path.read_text())):
            for node in ast.walk(func):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and _targets(node):
                    lazy.append(f"{name}.{func.name}")
    assert lazy == []


def test_few_modules_at_the_top_of_the_package() -> None:
    top = {path.stem for path in PACKAGE.glob("*.py")}
    assert top <= TOP_LEVEL


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_and_functions_stay_small(name: str) -> None:
    source = MODULES[name].read_text()
    assert source.count("\n") <= MAX_MODULE_LINES
    long = [
        func.name for func in _functions(ast.parse(source))
        if (func.end_lineno or func.lineno) - func.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []
