"""scripts/check_imports.py: every import of the project is declared in setup.cfg.

Each case builds a small project (setup.cfg and packages) in a temporary folder and runs
the script on it as CI does; the last one runs it on this repository.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "check_imports.py"

SETUP_CFG = """\
[metadata]
name = demo

[options]
packages = find:
install_requires =
    click>=8
    uvloop>=0.19; sys_platform != "win32"

[options.packages.find]
include =
    app
    app.*

[options.extras_require]
test =
    pytest>=8
    hypothesis
fast =
    msgpack>=1
"""


def make_project(root: Path, files: dict[str, str], setup_cfg: str = SETUP_CFG) -> Path:
    (root / "setup.cfg").write_text(setup_cfg)
    base = {
        "app/__init__.py": "",
        "app/main.py": "import json\nimport click\nfrom app import sub\nfrom . import sub as again\n",
        "app/sub/__init__.py": "from __future__ import annotations\nimport uvloop\n",
        "tests/__init__.py": "",
        "tests/helpers.py": "import hypothesis\n",
        "tests/test_app.py": "import pytest\nfrom tests.helpers import hypothesis\nimport app.main\n",
    }
    for rel, text in {**base, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def run_check(root: Path) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--root", str(root)],
                          capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


def test_a_project_whose_imports_are_all_declared_passes(tmp_path: Path) -> None:
    code, out = run_check(make_project(tmp_path, {}))
    assert code == 0, out
    assert "imports declared" in out


def test_an_undeclared_distribution_in_a_package_fails(tmp_path: Path) -> None:
    # msgpack is installed here (hkchain needs it) but this project does not declare it.
    code, out = run_check(make_project(tmp_path, {"app/sub/codec.py": "import os\nimport msgpack\n"}))
    assert code == 1
    assert "app/sub/codec.py:2: import msgpack" in out
    assert "declare it in setup.cfg's install_requires" in out


def test_a_test_only_distribution_in_a_package_fails(tmp_path: Path) -> None:
    code, out = run_check(make_project(tmp_path, {"app/props.py": "from hypothesis import given\n"}))
    assert code == 1
    assert "app/props.py:1: import hypothesis" in out and "only in the test extra" in out


def test_an_undeclared_distribution_in_tests_fails(tmp_path: Path) -> None:
    code, out = run_check(make_project(tmp_path, {"tests/test_rich.py": "import rich.table\n"}))
    assert code == 1
    assert "tests/test_rich.py:1: import rich" in out
    assert "install_requires or the test extra" in out


def test_a_module_no_distribution_provides_fails(tmp_path: Path) -> None:
    code, out = run_check(make_project(tmp_path, {"app/x.py": "import surely_no_such_module_here\n"}))
    assert code == 1
    assert "import surely_no_such_module_here: no installed distribution provides it" in out


def test_an_optional_extra_is_allowed_only_inside_a_function(tmp_path: Path) -> None:
    lazy = "def pack(v: object) -> bytes:\n    import msgpack\n    return msgpack.packb(v)\n"
    code, out = run_check(make_project(tmp_path, {"app/lazy.py": lazy}))
    assert code == 0, out
    code, out = run_check(make_project(tmp_path, {"app/eager.py": "import msgpack\n"}))
    assert code == 1 and "app/eager.py:1: import msgpack" in out


def test_a_repository_package_that_setup_cfg_does_not_ship_fails(tmp_path: Path) -> None:
    files = {"tools/__init__.py": "", "app/cmd.py": "from tools import bench\n"}
    code, out = run_check(make_project(tmp_path, files))
    assert code == 1
    assert "app/cmd.py:1: import tools: tools/ is a package of this repository" in out


def test_a_package_listed_in_setup_cfg_counts_as_first_party(tmp_path: Path) -> None:
    cfg = SETUP_CFG.replace("    app.*\n", "    app.*\n    tools\n    tools.*\n")
    files = {"tools/__init__.py": "import app.main\n", "app/cmd.py": "from tools import bench\n"}
    code, out = run_check(make_project(tmp_path, files, cfg))
    assert code == 0, out


def test_subpackages_need_the_wildcard_entry(tmp_path: Path) -> None:
    code, out = run_check(make_project(tmp_path, {}, SETUP_CFG.replace("    app.*\n", "")))
    assert code == 1 and "lacks 'app.*'" in out


@pytest.mark.parametrize("importer", ["app/uses_tests.py", "scripts/bench.py"])
def test_only_tests_import_tests(tmp_path: Path, importer: str) -> None:
    code, out = run_check(make_project(tmp_path, {importer: "from tests.helpers import hypothesis\n"}))
    assert code == 1
    assert f"{importer}:1: import tests: tests/ is not a shipped package" in out


def test_this_repository_declares_all_its_imports() -> None:
    code, out = run_check(ROOT)
    assert code == 0, out
