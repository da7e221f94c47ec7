"""The import rules of docs/ARCHITECTURE.md, enforced: each package imports only the
packages below it, and no module imports itself back through others (no cycles, counting
imports made only for type checking too).

The table is the architecture; a new package gets its line here and in ARCHITECTURE.md.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> the project's packages it may import (directly). Imports point down:
# cli → tools → node → {consensus, p2p, vm, storage} → core.
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "storage": frozenset({"core"}),
    "vm": frozenset({"core"}),
    "consensus": frozenset({"core"}),
    "p2p": frozenset({"core"}),
    "analytics": frozenset({"core", "storage"}),  # storage.state.StateProof only: a proof check
    "privacy": frozenset({"core"}),
    "web": frozenset(),
    "node": frozenset({"core", "storage", "vm", "consensus", "p2p", "analytics", "web", "privacy"}),
    "tools": frozenset({"core", "storage", "vm", "consensus", "p2p", "node", "privacy"}),
    "cli": frozenset({"core", "storage", "vm", "consensus", "p2p", "node", "tools",
                      "privacy", "analytics"}),
}
PROJECT = frozenset(ALLOWED) | {"tests", "scripts", "examples"}


def _modules() -> dict[str, Path]:
    """Every first-party module by dotted name (packages by their ``__init__``)."""
    out: dict[str, Path] = {}
    for package in sorted(ALLOWED):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _imports(path: Path, name: str) -> Iterator[tuple[int, str]]:
    """(line, dotted module) for every import in ``path``, relative ones resolved."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:  # `from pkg import module` imports the module
                yield node.lineno, f"{module}.{alias.name}"


def _edges() -> dict[str, set[str]]:
    modules = _modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for _, target in _imports(path, name):
            if target in modules and target != name:
                edges[name].add(target)
    return edges


def layer_violations() -> list[str]:
    found = []
    for name, path in _modules().items():
        package = name.split(".")[0]
        for line, target in _imports(path, name):
            root = target.split(".")[0]
            if root in PROJECT and root != package and root not in ALLOWED[package]:
                found.append(f"{path.relative_to(ROOT)}:{line}: {package} imports {target}")
    return sorted(set(found))


def import_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_every_package_imports_only_the_layers_below_it() -> None:
    assert layer_violations() == []


def test_no_module_imports_itself_back() -> None:
    assert import_cycles(_edges()) == []


def test_the_checks_can_fail() -> None:
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", sorted(p for p in ALLOWED if (ROOT / p).is_dir()))
def test_each_package_is_a_package(package: str) -> None:
    assert (ROOT / package / "__init__.py").exists(), f"{package}/ has no __init__.py"
