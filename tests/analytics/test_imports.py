"""analytics/ reads the chain like a client: it imports core (and storage.state for the
proof check) and nothing else of the project; of the project only cli and node (the
in-process switch) import it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("core", "storage", "vm", "consensus", "p2p", "node", "cli", "analytics", "tools", "privacy", "web")
ALLOWED = {"core", "analytics", "storage.state"}


def _imports(path: Path) -> list[str]:
    out: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append(node.module)
    return [m for m in out if m.split(".")[0] in PROJECT]


def _allowed(module: str) -> bool:
    return any(module == a or module.startswith(a + ".") for a in ALLOWED)


@pytest.mark.parametrize("path", sorted((ROOT / "analytics").rglob("*.py")), ids=lambda p: p.name)
def test_analytics_imports_only_core(path: Path) -> None:
    bad = [m for m in _imports(path) if not _allowed(m)]
    assert not bad, f"{path.name} imports {bad}"


def test_only_cli_and_node_import_analytics() -> None:
    users = set()
    for package in PROJECT:
        if package in ("analytics", "cli", "node"):
            continue
        for path in (ROOT / package).rglob("*.py") if (ROOT / package).exists() else []:
            if any(m.split(".")[0] == "analytics" for m in _imports(path)):
                users.add(str(path.relative_to(ROOT)))
    assert not users


def test_the_check_catches_a_bad_import(tmp_path: Path) -> None:
    f = tmp_path / "x.py"
    f.write_text("from node.service import Node\nimport core.codec\n")
    assert [m for m in _imports(f) if not _allowed(m)] == ["node.service"]
