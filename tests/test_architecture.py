"""The package's layering, read from its source: every import counts, function-level ones too.

import-linter (``make lint``) enforces the layers of docs/architecture.md; these tests state the two
properties the layering exists for, so that the suite fails as soon as either breaks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import equicover

PACKAGE_ROOT = Path(equicover.__file__).resolve().parent


def _top_level_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "equicover" or len(parts) < 2:
        return None
    return parts[1]


def package_import_graph() -> dict[str, set[str]]:
    """Top-level package (or root module) of equicover -> the others it imports, at any depth of the code."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE_ROOT.rglob("*.py"):
        relative = path.relative_to(PACKAGE_ROOT)
        if relative.parts == ("__init__.py",):
            continue
        own = relative.parts[0].removesuffix(".py")
        module = "equicover." + ".".join(relative.with_suffix("").parts)
        if relative.name == "__init__.py":
            module = module.removesuffix(".__init__")
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split(".")
                    if relative.name != "__init__.py":
                        base = base[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    name = ".".join(base) + (f".{node.module}" if node.module else "")
                else:
                    name = node.module or ""
                if name == "equicover":
                    targets.update(f"equicover.{alias.name}" for alias in node.names)
                else:
                    targets.add(name)
        edges = graph.setdefault(own, set())
        for target in targets:
            top = _top_level_of(target)
            if top is not None and top != own and top != "__version__":
                edges.add(top)
    return graph


def cycles_of(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_of_three_packages() -> None:
    assert cycles_of({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles_of({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycle_among_the_packages() -> None:
    graph = package_import_graph()
    assert {"registry", "claims", "settlement", "web", "api"} <= set(graph), "the graph reads the whole package"
    assert cycles_of(graph) == []


def test_the_kernel_and_the_settlement_engines_import_no_domain() -> None:
    graph = package_import_graph()
    assert graph["money"] == set()
    assert graph["errors"] == set()
    assert graph["settlement"] <= {"money", "errors", "console"}


def test_auth_knows_no_domain_so_that_every_domain_router_can_depend_on_it() -> None:
    graph = package_import_graph()
    assert graph["auth"] <= {"audit", "db", "errors", "http"}
