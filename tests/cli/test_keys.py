"""`hkchain keys new` and `keys show`: files, modes and clear errors."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from click.testing import CliRunner

from cli.main import main
from core.crypto import PrivateKey, is_address


def _address_in(output: str) -> str:
    match = re.search(r"address\s+(hk1\w+)", output)
    assert match, output
    return match.group(1)


def test_new_writes_a_private_key_file_and_show_prints_its_address(tmp_path: Path) -> None:
    out = tmp_path / "alice.key"
    runner = CliRunner()
    made = runner.invoke(main, ["keys", "new", "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    address = _address_in(made.output)
    assert is_address(address)
    assert PrivateKey.load(out).address == address

    shown = runner.invoke(main, ["keys", "show", str(out)])
    assert shown.exit_code == 0, shown.output
    assert _address_in(shown.output) == address


def test_new_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "k.key"
    runner = CliRunner()
    assert runner.invoke(main, ["keys", "new", "--out", str(out)]).exit_code == 0
    first = PrivateKey.load(out).address
    again = runner.invoke(main, ["keys", "new", "--out", str(out)])
    assert again.exit_code != 0
    assert "--force" in again.output
    assert PrivateKey.load(out).address == first
    forced = runner.invoke(main, ["keys", "new", "--out", str(out), "--force"])
    assert forced.exit_code == 0
    assert PrivateKey.load(out).address != first


def test_show_of_a_damaged_file_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text('{"type": "ed25519", "seed": "zz"}')
    result = CliRunner().invoke(main, ["keys", "show", str(bad)])
    assert result.exit_code == 1
    assert "damaged" in result.output
    assert "Traceback" not in result.output
    assert result.output.count("\n") == 1
