"""Nothing in consensus/ or vm/ may reach for time, randomness or an event loop: time and
randomness are passed in, so every replica and every execution is reproducible."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUARDED_PACKAGES = ("consensus", "vm")
FORBIDDEN_MODULES = frozenset({"time", "random", "asyncio"})
FORBIDDEN_ATTRIBUTES = frozenset({("os", "urandom")})
DYNAMIC_IMPORTERS = frozenset({"__import__", "import_module"})


def forbidden_uses(source: str) -> list[str]:
    """What ``source`` uses of the forbidden modules, one line per use."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            root = node.module.split(".")[0]
            if root in FORBIDDEN_MODULES:
                found.append(f"line {node.lineno}: from {node.module} import …")
            for alias in node.names:
                if (node.module, alias.name) in FORBIDDEN_ATTRIBUTES:
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in FORBIDDEN_ATTRIBUTES:
                found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in DYNAMIC_IMPORTERS and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    if arg.value.split(".")[0] in FORBIDDEN_MODULES:
                        found.append(f"line {node.lineno}: {name}({arg.value!r})")
    return found


def guarded_files() -> list[Path]:
    files: list[Path] = []
    for package in GUARDED_PACKAGES:
        files.extend(sorted((ROOT / package).rglob("*.py")))
    return files


def test_the_guarded_packages_exist() -> None:
    names = {p.relative_to(ROOT).parts[0] for p in guarded_files()}
    assert names == set(GUARDED_PACKAGES)
    assert any(p.name == "replica.py" for p in guarded_files())


@pytest.mark.parametrize("path", guarded_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_clock_randomness_or_event_loop(path: Path) -> None:
    uses = forbidden_uses(path.read_text())
    assert not uses, f"{path.relative_to(ROOT)} must not use time/randomness: {uses}"


@pytest.mark.parametrize(
    "source",
    [
        "import time",
        "import random as r",
        "import asyncio.tasks",
        "from time import monotonic",
        "from asyncio import sleep",
        "from os import urandom",
        "from os import path, urandom as u",
        "import os\nx = os.urandom(8)",
        "__import__('random')",
        "import importlib\nimportlib.import_module('time')",
    ],
)
def test_the_guard_catches(source: str) -> None:
    assert forbidden_uses(source)


@pytest.mark.parametrize(
    "source",
    ["import os\nos.path.join('a')", "from core import codec", "timeout_ms = 5", "import hashlib"],
)
def test_the_guard_allows(source: str) -> None:
    assert not forbidden_uses(source)
