"""Check that every import of the project is declared in setup.cfg.

  python scripts/check_imports.py [--root DIR]

Reads setup.cfg: the first-party packages are the top-level names of
``[options.packages.find] include`` (so a new package counts as soon as it is listed
there); the runtime requirements are ``install_requires``; the test requirements are the
``test`` extra. Then it parses (``ast``) every ``.py`` file and checks:

- a first-party package imports only the standard library, first-party packages and
  distributions of ``install_requires``; a distribution of another extra (not ``test``)
  only inside a function, so the package still imports without that extra;
- ``tests/``, ``scripts/`` and ``.ci/`` may also import the ``test`` extra;
- an import of a package directory of the repository that setup.cfg does not list is an
  error too: a wheel would not carry it.

Import names are mapped to distributions with
``importlib.metadata.packages_distributions()``, so run it in the environment the
requirements were installed into (CI's clean venv). Exits 1 and prints one line per
undeclared import, 0 when all is declared.
"""

from __future__ import annotations

import argparse
import ast
import configparser
import importlib.metadata
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

TEST_EXTRA = "test"
DEV_DIRS = ("tests", "scripts", ".ci")  # not shipped; may use the test extra
SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "__pycache__", ".mypy_cache",
             ".ruff_cache", ".pytest_cache", ".hypothesis", "node_modules"}


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Declared:
    first_party: frozenset[str]  # top-level import names of the project's packages
    include: frozenset[str]  # the include patterns as written
    runtime: frozenset[str]  # normalized distribution names of install_requires
    test: frozenset[str]  # ... of the test extra
    optional: frozenset[str]  # ... of every other extra


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    module: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: import {self.module}: {self.reason}"


def _requirement_names(text: str, where: str) -> frozenset[str]:
    names = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            names.add(normalize(Requirement(line).name))
        except InvalidRequirement as exc:
            raise SystemExit(f"setup.cfg {where}: cannot read requirement {line!r}: {exc}") from exc
    return frozenset(names)


def read_setup_cfg(root: Path) -> Declared:
    cfg = configparser.ConfigParser()
    if not cfg.read(root / "setup.cfg"):
        raise SystemExit(f"no setup.cfg in {root}")
    include = cfg.get("options.packages.find", "include", fallback="")
    first_party = {entry.strip().split(".")[0] for entry in include.split() if entry.strip()}
    if not first_party:
        raise SystemExit("setup.cfg lists no packages under [options.packages.find] include")
    runtime = _requirement_names(cfg.get("options", "install_requires", fallback=""),
                                 "install_requires")
    extras = dict(cfg.items("options.extras_require")) if cfg.has_section(
        "options.extras_require") else {}
    test = _requirement_names(extras.get(TEST_EXTRA, ""), f"extra {TEST_EXTRA}")
    optional: set[str] = set()
    for name, text in extras.items():
        if name != TEST_EXTRA:
            optional |= _requirement_names(text, f"extra {name}")
    return Declared(frozenset(first_party), frozenset(include.split()), runtime, test,
                    frozenset(optional))


def python_files(root: Path, top: str) -> Iterator[Path]:
    base = root / top
    if not base.is_dir():
        return
    for path in sorted(base.rglob("*.py")):
        if not SKIP_DIRS.intersection(path.relative_to(root).parts[:-1]):
            yield path


@dataclass(frozen=True)
class Import:
    module: str  # top-level name
    line: int
    lazy: bool  # inside a function: runs only when called


def imports_of(path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_bytes(), filename=str(path))

    def visit(node: ast.AST, lazy: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(alias.name.split(".")[0], child.lineno, lazy)
            elif isinstance(child, ast.ImportFrom):
                if child.level == 0 and child.module:
                    yield Import(child.module.split(".")[0], child.lineno, lazy)
            else:
                inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                yield from visit(child, inner)

    yield from visit(tree, False)


def repo_packages(root: Path) -> set[str]:
    """Top-level directories of the repository that are Python packages."""
    return {p.parent.name for p in root.glob("*/__init__.py")}


def check(root: Path, distributions: Mapping[str, Sequence[str]] | None = None) -> list[Problem]:
    declared = read_setup_cfg(root)
    if distributions is None:
        distributions = importlib.metadata.packages_distributions()
    local = repo_packages(root)
    problems = []
    for top in sorted(declared.first_party):
        if any((root / top).glob("*/__init__.py")) and f"{top}.*" not in declared.include:
            problems.append(Problem(Path("setup.cfg"), 0, top, (
                f"{top}/ has subpackages but [options.packages.find] include lacks "
                f"'{top}.*', so a wheel would not carry them")))
    tops = sorted(declared.first_party) + [d for d in DEV_DIRS if d not in declared.first_party]
    for top in tops:
        dev = top in DEV_DIRS
        allowed = declared.runtime | declared.test if dev else declared.runtime
        for path in python_files(root, top):
            rel = path.relative_to(root)
            for imp in imports_of(path):
                name = imp.module
                if name in sys.stdlib_module_names or name in declared.first_party:
                    continue
                if name == top and dev:
                    continue  # tests import tests.harness etc.; scripts do not import tests
                if name in local:
                    problems.append(Problem(rel, imp.line, name, (
                        f"{name}/ is a package of this repository but setup.cfg's "
                        "[options.packages.find] include does not list it (add "
                        f"'{name}' and '{name}.*'), so a wheel would not carry it"
                        if name not in DEV_DIRS else
                        f"{name}/ is not a shipped package; only {name}/ itself imports it")))
                    continue
                dists = {normalize(d) for d in distributions.get(name, ())}
                if not dists:
                    problems.append(Problem(rel, imp.line, name,
                                            "no installed distribution provides it; declare "
                                            "the distribution in setup.cfg and install it"))
                    continue
                if dists & allowed:
                    continue
                if not dev and imp.lazy and dists & declared.optional:
                    continue
                where = ("install_requires or the test extra" if dev else "install_requires")
                if dists & declared.test and not dev:
                    hint = "it is only in the test extra, which an installed package lacks"
                else:
                    hint = "it is not declared"
                problems.append(Problem(rel, imp.line, name,
                                        f"distribution {'/'.join(sorted(dists))}: {hint}; "
                                        f"declare it in setup.cfg's {where}"))
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="the project's root (default: this repository)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    problems = check(root)
    for problem in problems:
        print(problem)
    declared = read_setup_cfg(root)
    if problems:
        print(f"{len(problems)} undeclared import(s)")
        return 1
    print(f"imports declared: packages {', '.join(sorted(declared.first_party))} "
          f"and {', '.join(DEV_DIRS)} import only the standard library, each other and "
          "setup.cfg's requirements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
