"""A committee clerk's month, through the `hkchain` commands, in Chinese throughout, on a
4-validator localnet (real processes on 127.0.0.1):

1. register 30 households from the clerk's CSV (personal data sealed off chain, keys and
   cards made for them); a second run changes nothing;
2. the property company issues the month's bills to every household, with a report; a
   second run issues nothing;
3. some residents pay (in points, or off chain confirmed by the cashier); the arrears CSV
   lists exactly the others, with their totals;
4. a vote whose text residents read on another node, voted, and its final result shown;
5. a service request whose description a provider reads, finds in the open list, and
   takes;
6. a notice whose text a resident reads, and acknowledges;
7. a resident's statement shows the bill paid.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import main
from cli.wallet import RpcClient, run
from core.crypto import PrivateKey
from node.home import LocalNetwork, default_genesis_template, init_network
from privacy.checks import id_check_char
from privacy.register import PrivacyStore
from tests.e2e.harness import free_base_port, running

pytestmark = pytest.mark.slow

N_NODES = 4
N_HOUSEHOLDS = 30
VOTING_BLOCKS = 60
WAIT_S = 90.0
PERIOD = "2027-01"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
GIVEN = ("秀英", "桂英", "建华", "玉兰", "志强", "丽华", "国平", "海燕", "文军", "美玲")
PROPOSAL_TEXT = ("关于在3号楼北侧增设电动车充电桩的方案\n\n"
                 "一、拟安装充电桩十个，费用由使用者按度数承担。\n"
                 "二、施工期间不占用消防通道。\n")
REQUEST_TEXT = "厨房水龙头漏水，请周末上门维修，谢谢。"
NOTICE_TEXT = "12月20日上午9时至12时，3号楼停水检修，请提前储水。"


def resident_id(i: int) -> str:
    """A valid mainland ID number (GB 11643) for household i: Hongkou district code,
    a birth date, a sequence number and the check character."""
    first17 = f"310109{1950 + i:04d}{(i % 12) + 1:02d}{(i % 28) + 1:02d}{100 + i:03d}"
    return first17 + id_check_char(first17)


def mobile(i: int) -> str:
    return f"139{i:08d}"


@dataclass
class Month:
    net: LocalNetwork
    root: Path
    keys: dict[str, Path] = field(default_factory=dict)
    units: list[str] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)  # unit -> address

    def rpc(self, node: int = 0) -> str:
        return self.net.nodes[node].rpc_url

    def cli(self, *args: str, key: str | Path | None = None, node: int = 0) -> Result:
        key_file = self.keys[key] if isinstance(key, str) else key
        env = {"HKCHAIN_RPC": self.rpc(node),
               "HKCHAIN_KEY": str(key_file or self.net.operator_key_file),
               "HKCHAIN_PRIVACY_STORE": str(PrivacyStore.of_node_home(self.net.nodes[0].home).root),
               "COLUMNS": "240"}
        return CliRunner().invoke(main, list(args), env=env)

    def ok(self, *args: str, key: str | Path | None = None, node: int = 0) -> Result:
        result = self.cli(*args, key=key, node=node)
        assert result.exit_code == 0, f"hkchain {' '.join(args)} failed:\n{result.output}"
        return result

    def json(self, *args: str, key: str | Path | None = None, node: int = 0) -> Any:
        return json.loads(self.ok(*args, "--json", key=key, node=node).stdout)

    def query(self, contract: str, method: str, args: list[Any], node: int = 0) -> Any:
        async def go() -> Any:
            async with RpcClient(self.rpc(node)) as rpc:
                return await rpc.query(contract, method, args)

        return run(go())

    def wait_for(self, what: str, check: Any) -> Any:
        deadline = time.monotonic() + WAIT_S
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = check()
                if last:
                    return last
            except Exception as exc:  # a node still catching up answers with errors
                last = exc
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what} (last: {last!r})")

    def household_key(self, unit: str) -> Path:
        return self.root / "keys" / f"{unit}.key"


def _genesis_template(path: Path) -> Path:
    doc = json.loads(default_genesis_template().read_text())
    doc["params"]["governance"]["owners_voting_blocks"] = VOTING_BLOCKS
    path.write_text(json.dumps(doc, ensure_ascii=False))
    return path


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Month]:
    root = tmp_path_factory.mktemp("clerk")
    net = init_network(root / "net", N_NODES, base_port=free_base_port(N_NODES),
                       genesis_template=_genesis_template(root / "genesis.json"))
    with running(net) as sup:
        sup.wait_ready(timeout_ms=60_000)
        m = Month(net, root)
        for name in ("物业公司", "收费员", "维修师傅"):
            k = PrivateKey.generate()
            path = root / f"{name}.key"
            k.save(path)
            m.keys[name] = path
        yield m


def _read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_a_clerks_month(month: Month) -> None:
    m = month
    # --- 1. 30 households from the clerk's CSV -------------------------------------------
    lines = ["房号,面积,姓名,身份证号,手机号"]
    for i in range(N_HOUSEHOLDS):
        unit = f"3号楼-{i // 6 + 1}{i % 6 + 1:02d}室"
        m.units.append(unit)
        name = SURNAMES[i] + GIVEN[i % len(GIVEN)]
        lines.append(f"{unit},{70 + i}.{i % 100:02d},{name},{resident_id(i)},{mobile(i)}")
    register_csv = m.root / "住户登记.csv"
    register_csv.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    report = m.root / "登记报告.csv"
    first = m.ok("households", "import", str(register_csv), "--cards-dir", str(m.root / "cards"),
                 "--keys-dir", str(m.root / "keys"), "--report", str(report), "--yes")
    assert f"registered {N_HOUSEHOLDS}, already registered 0, errors 0" in first.output
    rows = _read_csv(report.read_text(encoding="utf-8"))
    assert [r["unit"] for r in rows] == m.units and all(r["status"] == "registered" for r in rows)
    for r in rows:
        m.addresses[r["unit"]] = r["address"]
        assert Path(r["key_file"]).is_file() and Path(r["card_file"]).is_file()
    assert m.query("households", "totals", [])[1] == N_HOUSEHOLDS
    again = m.ok("households", "import", str(register_csv), "--cards-dir", str(m.root / "cards"),
                 "--keys-dir", str(m.root / "keys"), "--yes")
    assert f"registered 0, already registered {N_HOUSEHOLDS}, errors 0" in again.output
    # A mistyped ID number stops the whole file before anything is signed.
    bad = m.root / "有误.csv"
    bad.write_text("房号,面积,姓名,身份证号,手机号\n5号楼-101室,80,错误,110105194912310021,13900000000\n",
                   encoding="utf-8")
    refused = m.cli("households", "import", str(bad), "--cards-dir", str(m.root / "cards"),
                    "--keys-dir", str(m.root / "keys"), "--yes")
    assert refused.exit_code == 2 and "line 2" in refused.output and "check character" in refused.output
    assert m.query("households", "unit_holder", ["5号楼-101室"]) is None

    # --- 2. the month's bills ----------------------------------------------------------------
    company = PrivateKey.load(m.keys["物业公司"]).address
    cashier = PrivateKey.load(m.keys["收费员"]).address
    m.ok("gov", "grant-role", company, "property_company", "--yes")
    m.ok("transfer", "--to", company, "--amount", "100000")
    m.ok("property", "set-confirmer", cashier)
    m.ok("transfer", "--to", cashier, "--amount", "10000")
    m.ok("property", "set-schedule", "--item", "mgmt:物业管理费:area:250", "--item", "lift:电梯费:fixed:3000",
         key="物业公司")
    bills_report = m.root / "账单报告.csv"
    issued = m.ok("property", "issue-bills", "--period", PERIOD, "--households", str(report),
                  "--report", str(bills_report), "--yes", key="物业公司")
    assert f"issued {N_HOUSEHOLDS}, already billed 0, errors 0" in issued.output
    bills = {r["household"]: r for r in _read_csv(bills_report.read_text(encoding="utf-8"))}
    assert len(bills) == N_HOUSEHOLDS and all(r["status"] == "issued" for r in bills.values())
    again_bills = m.ok("property", "issue-bills", "--period", PERIOD, "--households", str(report), "--yes",
                       key="物业公司")
    assert f"issued 0, already billed {N_HOUSEHOLDS}" in again_bills.output
    wrong_period = m.cli("property", "issue-bills", "--period", "一月", "--yes", key="物业公司")
    assert wrong_period.exit_code == 2 and "YYYY-MM" in wrong_period.output

    # --- 3. some pay; the arrears CSV shows the rest ---------------------------------------
    payers = m.units[:10]
    for unit in payers:
        total = int(bills[m.addresses[unit]]["total"])
        m.ok("transfer", "--to", m.addresses[unit], "--amount", str(total))
        paid = m.ok("property", "pay-bill", bills[m.addresses[unit]]["bill"], "--yes",
                    key=m.household_key(unit))
        assert "Bill" in paid.output or "paid" in paid.output.lower()
    cash = m.units[10:12]
    for n, unit in enumerate(cash):
        m.ok("property", "confirm-payment", bills[m.addresses[unit]]["bill"], "--reference", f"现金-{n + 1:04d}",
             key="收费员")
    arrears_csv = m.root / "欠费.csv"
    m.ok("property", "arrears", "--csv", str(arrears_csv), node=1)
    owing = _read_csv(arrears_csv.read_text(encoding="utf-8"))
    expect = m.units[12:]
    assert sorted(r["房号"] for r in owing) == sorted(expect)
    for r in owing:
        bill = bills[r["地址"]]
        assert r["未缴账单数"] == "1" and r["欠费合计(积分)"] == bill["total"] and r["最早账期"] == PERIOD
        assert r["0-30天"] == bill["total"] and r["账单号"] == bill["bill"]
    total_owed = sum(int(r["欠费合计(积分)"]) for r in owing)
    assert m.query("property", "arrears_all", []) == {"bills": len(expect), "total": total_owed}
    history = m.json("property", "bills", m.addresses[payers[0]], "--status", "all")
    assert [b["status"] for b in history["items"]] == ["paid"]

    # --- 4. a vote whose text residents read ------------------------------------------------
    plan = m.root / "充电桩方案.txt"
    plan.write_text(PROPOSAL_TEXT, encoding="utf-8")
    proposed = m.json("gov", "propose", "--category", "9", "--title", "增设电动车充电桩", "--doc", str(plan), "--yes")
    pid = proposed["result"]
    shown = m.wait_for("the proposal's text on node 2",
                       lambda: (r := m.cli("gov", "proposal", str(pid), node=2)).exit_code == 0
                       and "增设电动车充电桩的方案" in r.output and r)
    assert "一、拟安装充电桩十个" in shown.output and "vote closes" in shown.output and "UTC+8" in shown.output
    listed = m.ok("gov", "list", "--status", "open", node=3)
    assert "增设电动车充电桩" in listed.output
    # Submitted without waiting for each commit (the vote runs VOTING_BLOCKS blocks), then
    # counted once all are in.
    for i, unit in enumerate(m.units[:24]):
        m.ok("gov", "vote", str(pid), "yes" if i < 20 else ("no" if i < 22 else "abstain"), "--yes",
             "--wait-ms", "0", key=m.household_key(unit))
    m.wait_for("24 votes counted", lambda: m.query("governance", "tally", [pid])["voted_owners"] == 24)
    closes = m.query("governance", "proposal", [pid])["closes"]
    m.wait_for("the vote to close", lambda: m.query("governance", "proposal", [pid])["status"] != "open")
    final = m.ok("gov", "proposal", str(pid), node=1)
    assert "Final result: PASSED" in final.output and "If the vote closed now" not in final.output
    assert "abstain" in final.output and f"block {closes}" in final.output

    # --- 5. a service request a provider reads and takes -------------------------------------
    provider = PrivateKey.load(m.keys["维修师傅"]).address
    m.ok("gov", "grant-role", provider, "service_provider")
    m.ok("transfer", "--to", provider, "--amount", "1000")
    m.ok("services", "register-provider", "水电维修", key="维修师傅")
    requester = m.units[0]
    rid = m.json("services", "request", "--category", "水电维修", "--description", REQUEST_TEXT,
                 "--budget", "500", "--yes", key=m.household_key(requester))["result"]
    open_list = m.json("services", "list", "--status", "open", "--category", "水电维修", key="维修师傅", node=2)
    assert [r["id"] for r in open_list["items"]] == [rid]
    seen = m.wait_for("the request's text on node 3",
                      lambda: (r := m.cli("services", "show", str(rid), node=3)).exit_code == 0
                      and REQUEST_TEXT in r.output and r)
    assert "水电维修" in seen.output
    m.ok("services", "offer", str(rid), "--price", "300", "--yes", key="维修师傅", node=2)
    m.ok("transfer", "--to", m.addresses[requester], "--amount", "400")
    m.ok("services", "accept", str(rid), "--yes", key=m.household_key(requester))
    mine = m.json("services", "list", "--status", "accepted", "--party", provider, node=1)
    assert [(r["id"], r["provider"]) for r in mine["items"]] == [(rid, provider)]

    # --- 6. a notice with its text ------------------------------------------------------------
    nid = m.json("notices", "post", "--title", "停水通知", "--text", NOTICE_TEXT, "--yes")["result"]
    notice = m.wait_for("the notice's text on node 3",
                        lambda: (r := m.cli("notices", "show", str(nid), node=3)).exit_code == 0
                        and NOTICE_TEXT in r.output and r)
    assert "停水通知" in notice.output
    m.ok("notices", "ack", str(nid), "--yes", key=m.household_key(m.units[5]), node=3)
    assert m.query("notices", "notice", [nid])["acks"] == 1

    # --- 7. a resident's statement ---------------------------------------------------------------
    statement = m.json("account", "statement", key=m.household_key(payers[1]), node=2)
    paid_bill = [e for e in statement["items"] if e["bill"]]
    assert len(paid_bill) == 1 and paid_bill[0]["bill"]["id"] == int(bills[m.addresses[payers[1]]]["bill"])
    assert paid_bill[0]["points_out"] == int(bills[m.addresses[payers[1]]]["total"])

    # --- personal data: in the sealed register, never on chain ---------------------------------
    secrets = [resident_id(i) for i in range(N_HOUSEHOLDS)] + [mobile(i) for i in range(N_HOUSEHOLDS)] \
        + [SURNAMES[i] + GIVEN[i % len(GIVEN)] for i in range(N_HOUSEHOLDS)]

    async def chain_text() -> str:
        async with RpcClient(m.rpc(1)) as rpc:
            head = int((await rpc.status())["height"])
            blocks = [json.dumps(await rpc.block(h), ensure_ascii=False) for h in range(1, head + 1)]
        return "\n".join(blocks)

    on_chain = run(chain_text())
    assert "3号楼-101室" in on_chain  # the scan sees the txs' arguments
    leaked = [s for s in secrets if s in on_chain]
    assert leaked == [], f"personal data on chain: {leaked[:3]}"
    register = PrivacyStore.of_node_home(m.net.nodes[0].home)
    assert len(register.records()) == N_HOUSEHOLDS

    # A resident shows a service desk their unit, and nothing else.
    unit = m.units[7]
    proof = m.root / "unit-proof.json"
    card = next(Path(r["card_file"]) for r in rows if r["unit"] == unit)
    m.ok("households", "prove", "--card", str(card), "--key", str(m.household_key(unit)),
         "--challenge", "服务台-3", "--field", "unit", "--out", str(proof))
    carried = bytes.fromhex(json.loads(proof.read_text())["data"])
    assert not any(s.encode() in carried for s in secrets)
    checked = m.json("households", "verify", str(proof), "--challenge", "服务台-3", node=2)
    assert checked == {"valid": True, "household": m.addresses[unit], "field": "unit", "value": unit,
                       "registered": True, "challenge_matches": True}
