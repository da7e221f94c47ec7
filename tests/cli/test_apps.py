"""The application commands without a node: every command has --help, argument forms
parse as documented (areas, hashes, times, schedule lines), usage mistakes exit 2 and an
unreachable node is one clear line with exit 1."""

from __future__ import annotations

import calendar
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from cli.apps import groups
from cli.apps.base import area_dm2_arg, hash_arg, time_arg
from cli.apps.property import _extra, _schedule_item
from cli.main import main
from core.crypto import PrivateKey

UNREACHABLE = "http://127.0.0.1:9"


def _commands() -> list[tuple[str, str]]:
    return [(g.name or "", name) for g in groups() for name in g.commands]


def test_every_group_is_registered() -> None:
    names = {g.name for g in groups()}
    assert names == {"account", "households", "property", "gov", "services", "culture", "activities",
                     "notices", "merchants", "names"}
    assert names <= set(main.commands)


@pytest.mark.parametrize(("group", "command"), _commands())
def test_every_command_has_help(group: str, command: str) -> None:
    result = CliRunner().invoke(main, [group, command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and "--help" in result.output


@pytest.mark.parametrize(("text", "dm2"), [("89.57", 8957), ("100", 10000), ("0.01", 1), (" 65.5 ", 6550)])
def test_areas_in_square_metres(text: str, dm2: int) -> None:
    assert area_dm2_arg(text) == dm2


@pytest.mark.parametrize("text", ["89.575", "-3", "0", "abc", ""])
def test_bad_areas(text: str) -> None:
    with pytest.raises(click.BadParameter):
        area_dm2_arg(text)


def test_document_hashes_from_hex_file_or_text(tmp_path: Path) -> None:
    h = bytes(range(32))
    assert hash_arg(h.hex()) == h
    assert hash_arg("0x" + h.hex()) == h
    doc = tmp_path / "plan.pdf"
    doc.write_bytes(b"%PDF plan")
    assert hash_arg(str(doc)) == hashlib.sha256(b"%PDF plan").digest()
    assert hash_arg("replace the pipes") == hashlib.sha256(b"replace the pipes").digest()
    with pytest.raises(click.BadParameter):
        hash_arg("  ")


def test_times() -> None:
    assert time_arg("1800000000") == 1800000000
    utc = calendar.timegm((2027, 1, 5, 19, 0, 0))
    assert time_arg("2027-01-05T19:00") == utc - 8 * 3600  # without a zone: Shanghai time
    assert time_arg("2027-01-05 19:00") == utc - 8 * 3600
    assert time_arg("2027-01-05T19:00+00:00") == utc
    now = int(time.time())
    assert now + 7200 - 5 <= time_arg("+2h") <= now + 7200 + 5
    with pytest.raises(click.BadParameter):
        time_arg("next tuesday")


def test_schedule_and_extra_lines() -> None:
    assert _schedule_item("mgmt:Management fee:area:250") == ["mgmt", "Management fee", "area", 250]
    assert _extra("Parking=150") == ["Parking", 150]
    for bad in ("mgmt:fee:volume:250", "mgmt:fee:area", "mgmt:fee:area:-1"):
        with pytest.raises(click.BadParameter):
            _schedule_item(bad)
    with pytest.raises(click.BadParameter):
        _extra("Parking")


def test_usage_mistakes_exit_2() -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["property", "pay-bill"]).exit_code == 2
    assert runner.invoke(main, ["property", "pay-bill", "zero"]).exit_code == 2
    assert runner.invoke(main, ["gov", "vote", "1", "maybe"]).exit_code == 2
    def register(area: str, id_number: str, phone: str) -> Any:
        return runner.invoke(main, ["households", "register", "--household", PrivateKey.from_seed_text("h").address,
                                    "--unit", "T1", "--area", area, "--name", "王芳", "--id-number", id_number,
                                    "--phone", phone, "--rpc", UNREACHABLE])

    good_id, good_phone = "11010519491231002X", "13800138000"
    bad_area = register("1.234", good_id, good_phone)
    assert bad_area.exit_code == 2 and "--area" in bad_area.output
    bad_id = register("80", "abc", good_phone)
    assert bad_id.exit_code == 2 and "--id-number" in bad_id.output and "18 characters" in bad_id.output
    bad_sum = register("80", "110105194912310021", good_phone)
    assert bad_sum.exit_code == 2 and "check character" in bad_sum.output
    bad_phone = register("80", good_id, "123")
    assert bad_phone.exit_code == 2 and "--phone" in bad_phone.output
    bad_period = runner.invoke(main, ["property", "issue-bill", "--household", PrivateKey.from_seed_text("h").address,
                                      "--period", "一月", "--rpc", UNREACHABLE])
    assert bad_period.exit_code == 2 and "YYYY-MM" in bad_period.output
    missing = runner.invoke(main, ["gov", "propose", "--category", "9", "--title", "t", "--doc", "plna.txt",
                                   "--rpc", UNREACHABLE])
    assert missing.exit_code == 2 and "no such file: plna.txt" in missing.output


def test_an_unreachable_node_is_one_line_and_exit_1(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    PrivateKey.generate().save(key)
    runner = CliRunner()
    view = runner.invoke(main, ["property", "fund", "--rpc", UNREACHABLE])
    signed = runner.invoke(main, ["culture", "like", "1", "--rpc", UNREACHABLE, "--key", str(key)])
    for result in (view, signed):
        assert result.exit_code == 1
        assert "cannot reach node" in result.output
        assert "Traceback" not in result.output


def test_prove_then_verify_offline_parts(tmp_path: Path) -> None:
    """prove writes a proof that only the verifier's key opens (the chain check needs a node)."""
    from privacy.register import HouseholdCard, HouseholdIdentity

    resident = PrivateKey.generate()
    verifier = PrivateKey.generate()
    resident.save(tmp_path / "r.key")
    card = HouseholdCard.issue(resident.address, 7000, HouseholdIdentity.create("Wong Tai", "A123", "98765432"))
    card.save(tmp_path / "card.json")
    result = CliRunner().invoke(main, [
        "households", "prove", "--card", str(tmp_path / "card.json"), "--key", str(tmp_path / "r.key"),
        "--challenge", "n-1", "--seal-to", verifier.public_key.hex(), "--out", str(tmp_path / "proof.json"),
    ])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "proof.json").read_text()
    assert "Wong Tai" not in text and "98765432" not in text
    wrong = CliRunner().invoke(main, ["households", "verify", str(tmp_path / "proof.json"),
                                      "--challenge", "n-1", "--rpc", UNREACHABLE])
    assert wrong.exit_code != 0 and "sealed" in wrong.output


def test_every_option_has_a_help_text() -> None:
    missing: list[str] = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
            return
        missing.extend(f"{' '.join(path)} {p.opts[0]}" for p in cmd.params
                       if isinstance(p, click.Option) and not p.help and not p.hidden)

    walk(main, [])
    assert missing == []


def test_keys_new_json_and_utf8_json(tmp_path: Path) -> None:
    out = CliRunner().invoke(main, ["keys", "new", "--out", str(tmp_path / "k.key"), "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["address"].startswith("hk1") and doc["file"].endswith("k.key") and doc["encrypted"] is False
    from cli.common import print_json

    runner = CliRunner()

    @click.command()
    def show() -> None:
        print_json({"title": "停水通知"})

    assert "停水通知" in runner.invoke(show).output and "\\u" not in runner.invoke(show).output


def test_culture_get_to_stdout_needs_a_node() -> None:
    # "-" is accepted as standard output (not a file named "-"); the node is unreachable.
    result = CliRunner().invoke(main, ["culture", "get", "0x" + "ab" * 32, "--out", "-", "--rpc", UNREACHABLE])
    assert result.exit_code == 1 and "cannot" in result.output and not Path("-").exists()


def test_gov_proposal_shows_the_electorate_fixed_at_the_opening(monkeypatch: pytest.MonkeyPatch) -> None:
    import cli.apps.gov as gov_app

    doc = {"id": 1, "kind": "owners", "category": 9, "title": "chargers", "status": "open",
           "proposer": "hk1x", "created": 10, "closes": 70, "electorate": 6,
           "total_area": 54_702, "total_owners": 6}
    tally = {"voted_owners": 6, "voted_area_dm2": 54_702, "yes_owners": 6, "yes_area_dm2": 54_702,
             "no_owners": 0, "no_area_dm2": 0, "total_owners": 6, "total_area_dm2": 54_702}
    answers = {"proposal": doc, "tally": tally, "outcome": {"quorum": True, "passed": True}}

    class Clock:
        def height_text(self, height: int) -> str:
            return f"block {height}"

    monkeypatch.setattr(gov_app, "query", lambda url, contract, method, args: answers[method])
    monkeypatch.setattr(gov_app, "chain_clock", lambda url: Clock())
    out = CliRunner().invoke(main, ["gov", "proposal", "1", "--rpc", "http://127.0.0.1:1"])
    assert out.exit_code == 0, out.output
    assert "6 households, 547.02 m², as registered when the vote opened" in out.output
    assert "6 / 6" in out.output and "547.02 / 547.02" in out.output
