"""The chain explorer against a real 4-validator localnet: the latest blocks, a block with
a points transfer and its receipt (status, gas, fee, the Transfer event with its amount
in points), its commit certificate verified in the browser, the validators' liveness
from the recent certificates, the evidence and the peers; and a node that forges a
certificate signature is shown as not verified. With HKCHAIN_UPDATE_SCREENSHOTS=1 the
block page is written to docs/screenshots/ in zh and en, mobile and desktop."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.request import urlopen
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from cli.common import load_key
from cli.main import main
from cli.wallet import RpcClient, Wallet, run
from node.localnet import Supervisor
from tests.e2e.harness import make_network, running
from tests.web.browser import DESKTOP, MOBILE, Watched, open_page, require_chromium
from tests.web.community import off_loop
from tests.web.test_screens import AXE

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Route

pytestmark = pytest.mark.slow

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WAIT_MS = 60_000
AMOUNT = 1234


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    require_chromium()
    network = make_network(Path(tmp_path_factory.mktemp("web-explorer")) / "localnet", 4)
    with running(network) as sup:
        sup.wait_ready(timeout_ms=60_000)
        yield sup


@pytest.fixture(scope="module")
def transfer(net: Supervisor) -> dict[str, Any]:
    """A points transfer by the operator to node 1's validator, committed: its height."""
    to = json.loads(off_loop(lambda: CliRunner().invoke(
        main, ["status", "--json"], env={"HKCHAIN_RPC": net.nodes[1].rpc_url})).stdout)["address"]
    env = {"HKCHAIN_RPC": net.nodes[0].rpc_url, "HKCHAIN_KEY": str(net.network.operator_key_file)}
    result = off_loop(lambda: CliRunner().invoke(
        main, ["transfer", "--to", to, "--amount", str(AMOUNT), "--json"], env=env))
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return {"height": doc["height"], "to": to}


@pytest.fixture(scope="module")
def failed_transfer(net: Supervisor, transfer: dict[str, Any]) -> int:
    """A transfer of more points than the operator holds, sent without the dry run: it is
    committed as failed (the fee is paid). Its height."""
    async def go() -> int:
        async with RpcClient(net.nodes[0].rpc_url) as rpc:
            wallet = Wallet(load_key(str(net.network.operator_key_file)), rpc)
            await wallet.sync()
            _, doc = await wallet.call("token", "transfer", [transfer["to"], 10**15], dry_run=False)
            assert doc is not None and doc["receipt"]["status"] == 1, doc
            return int(doc["height"])

    return off_loop(lambda: run(go()))


def _open(browser: Browser, net: Supervisor, lang: str = "zh-CN", layout: str = "mobile") -> Watched:
    w = open_page(browser, net.nodes[0].rpc_url, viewport=MOBILE if layout == "mobile" else DESKTOP)
    w.page.goto("/")
    w.page.evaluate("(lang) => localStorage.setItem('hkchain.settings', JSON.stringify({lang, elder: false}))", lang)
    w.page.reload()
    w.page.wait_for_selector("main h2")
    return w


def _critical(p: Page) -> list[dict[str, Any]]:
    """Critical accessibility violations by axe-core (vendored), as test_screens checks."""
    p.evaluate(AXE + "\n;0")
    found: list[dict[str, Any]] = p.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter((v) => v.impact === 'critical').map((v) => ({id: v.id, help: v.help}));
    }""")
    return found


def _find_row(p: Page, height: int) -> Locator:
    """The row of block `height`: on the latest page, or by following "older blocks" (the
    chain keeps committing blocks while the test runs)."""
    for _ in range(1000):
        p.locator("[data-testid^=block-row-]").first.wait_for(timeout=WAIT_MS)
        row = p.get_by_test_id(f"block-row-{height}")
        if row.count():
            return row
        first = p.locator("[data-testid^=block-row-]").first.get_attribute("data-testid")
        p.get_by_test_id("older").click()
        p.wait_for_function("(t) => !document.querySelector(`[data-testid=${t}]`)", arg=first)
    raise AssertionError(f"no row for block {height}")


def _badge(w: Watched) -> str:
    cert = w.page.get_by_test_id("certificate")
    cert.locator("[data-testid=verified], [data-testid=unverified]").first.wait_for(timeout=WAIT_MS)
    return "verified" if cert.get_by_test_id("verified").count() else "unverified"


def test_the_explorer_shows_a_transfer_its_receipt_and_a_verified_certificate(
        browser: Browser, net: Supervisor, transfer: dict[str, Any]) -> None:
    w = _open(browser, net, layout="desktop")
    try:
        p = w.page
        p.goto("/#/explorer")
        p.locator("nav.nav a[href='#/explorer']").wait_for()  # reachable from the navigation
        row = _find_row(p, transfer["height"])
        cells = row.locator("td").all_inner_texts()
        assert cells[2] == "1"  # one tx
        ms = json.loads(urlopen(f"{net.nodes[0].rpc_url}/v1/blocks/{transfer['height']}").read())["header"]["timestamp_ms"]
        shanghai = datetime.fromtimestamp(ms / 1000, ZoneInfo("Asia/Shanghai")).strftime("%Y/%m/%d %H:%M:%S")
        assert cells[1] == shanghai  # whatever the browser's zone (London here)
        assert p.get_by_test_id("validator-row").count() == 4
        assert p.get_by_test_id("validator-row").count() == 4
        assert p.get_by_test_id("liveness-live").count() >= 3  # a quorum signs every certificate
        assert len(p.get_by_test_id("peers").locator("tbody tr").all()) == 3
        assert "没有任何节点被发现重复签名" in p.get_by_test_id("evidence").inner_text()

        # Liveness on a fixed range equals a recount of the certificates' signers.
        rpc = net.nodes[0].rpc_url
        head = json.loads(urlopen(f"{rpc}/v1/status").read())["height"]
        first = max(0, head - 19)
        blocks = json.loads(urlopen(f"{rpc}/v1/blocks?from={first}&limit={head - first + 1}").read())["blocks"]
        names = {v["public_key"]: v["name"] for v in json.loads(urlopen(f"{rpc}/v1/status").read())["validators"]}
        certified = [b for b in blocks if b["certificate"]]
        signed = {n: sum(1 for b in certified for s in b["certificate"]["signatures"] if names[s["validator"]] == n)
                  for n in names.values()}
        p.goto(f"/#/explorer/upto/{head}")
        p.get_by_test_id(f"block-row-{head}").wait_for()
        shown = {r.locator("td").nth(0).inner_text().splitlines()[0]: r.locator("td").nth(2).inner_text()
                 for r in p.get_by_test_id("validator-row").all()}
        assert shown == {n: f"{k} / {len(certified)}" for n, k in signed.items()}
        assert len(p.get_by_test_id("liveness-live").all()) == sum(1 for k in signed.values() if k)
        p.goto("/#/explorer/upto/1")  # an older page: blocks 1 and 0 only
        p.get_by_test_id("newest").wait_for()
        assert p.locator("[data-testid^=block-row-]").evaluate_all("rs => rs.map((r) => r.dataset.testid)") == [
            "block-row-1", "block-row-0"]
        p.goto("/#/explorer")
        row = _find_row(p, transfer["height"])
        row.locator("a").click()
        p.get_by_test_id("tx").wait_for()
        tx = p.get_by_test_id("tx").inner_text()
        assert "token.transfer" in tx
        assert p.get_by_test_id("receipt-status").inner_text() == "成功"
        event = p.get_by_test_id("event").filter(has_text="积分转账").inner_text()
        assert "1,234 积分" in event and "收款人" in event
        assert p.get_by_test_id("event").filter(has_text="手续费").count() == 1  # the fee charge
        assert _badge(w) == "verified"
        assert "核对了证书的签名" in p.get_by_test_id("certificate-why").inner_text()
        assert w.console_errors == [] and w.csp_violations() == []
    finally:
        w.context.close()


def test_a_failed_tx_shows_its_error_code_and_the_fee_paid(
        browser: Browser, net: Supervisor, failed_transfer: int) -> None:
    w = _open(browser, net)
    try:
        p = w.page
        p.goto(f"/#/explorer/{failed_transfer}")
        assert _badge(w) == "verified"
        tx = p.get_by_test_id("tx").filter(has=p.get_by_test_id("receipt-error"))
        assert tx.get_by_test_id("receipt-status").inner_text() == "失败（已扣手续费）"
        error = tx.get_by_test_id("receipt-error").inner_text()
        assert error == "insufficient_balance 积分不够。"  # the code, then its words in the reader's language
        assert "积分" in tx.inner_text()  # the fee, in points
        assert w.console_errors == []
    finally:
        w.context.close()


def test_evidence_is_shown_readably(browser: Browser, net: Supervisor) -> None:
    """A record as GET /v1/evidence gives it (node/evidence.py to_json): the validator by
    name, the kind in words, the height and view, and the time it was seen in Shanghai."""
    status = json.loads(urlopen(f"{net.nodes[0].rpc_url}/v1/status").read())
    v = status["validators"][2]
    seen = 1_796_000_000_000  # 2026-11-30 08:53:20 in Shanghai, 00:53:20 in London
    record = {"height": 7, "view": 1, "kind": "commit", "validator": v["public_key"],
              "validator_address": v["address"], "validator_name": v["name"], "seen_at_ms": seen,
              "first": {"block_hash": "aa" * 32, "signed_bytes": "00", "signature": "11" * 64},
              "second": {"block_hash": "bb" * 32, "signed_bytes": "00", "signature": "22" * 64}}
    w = _open(browser, net)
    try:
        w.page.route("**/v1/evidence?*", lambda route: route.fulfill(
            json={"count": 1, "evidence": [record]}))
        w.page.goto("/#/explorer")
        text = w.page.get_by_test_id("evidence").locator("li").inner_text()
        assert f"{v['name']} 在高度 7、轮次 1 对两个不同区块发出了提交签名" in text
        assert "2026/11/30 08:53" in text and str(seen // 1000) not in text
    finally:
        w.context.close()


def test_a_forged_certificate_is_shown_as_not_verified(
        browser: Browser, net: Supervisor, transfer: dict[str, Any]) -> None:
    w = _open(browser, net)
    try:
        def forge(route: Route) -> None:
            resp = route.fetch()
            doc = resp.json()
            for block in doc.get("blocks", []):
                if block.get("certificate"):
                    b = bytearray(bytes.fromhex(block["certificate"]["encoded"]))
                    b[len(b) - 3] ^= 1  # inside the last signature
                    block["certificate"]["encoded"] = b.hex()
            route.fulfill(response=resp, body=json.dumps(doc))

        w.page.route("**/v1/blocks?*", forge)
        w.page.goto(f"/#/explorer/{transfer['height']}")
        assert _badge(w) == "unverified"
        assert "不能相信" in w.page.get_by_test_id("certificate-why").inner_text()
    finally:
        w.context.close()


def test_a_changed_receipt_is_shown_as_not_verified(
        browser: Browser, net: Supervisor, transfer: dict[str, Any]) -> None:
    """The certificate is genuine but the node swaps in another receipt's bytes: the
    receipts no longer match the header's root."""
    w = _open(browser, net, lang="en")
    try:
        def lie(route: Route) -> None:
            resp = route.fetch()
            doc = resp.json()
            for block in doc.get("blocks", []):
                for r in block.get("receipts", []):
                    b = bytearray(bytes.fromhex(r["encoded"]))
                    b[-1] ^= 1
                    r["encoded"] = b.hex()
            route.fulfill(response=resp, body=json.dumps(doc))

        w.page.route("**/v1/blocks?*", lie)
        w.page.goto(f"/#/explorer/{transfer['height']}")
        assert _badge(w) == "unverified"
        assert "do not trust" in w.page.get_by_test_id("certificate-why").inner_text()
    finally:
        w.context.close()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("layout", ["mobile", "desktop"])
def test_the_explorer_fits_the_screen_and_is_accessible(
        browser: Browser, net: Supervisor, transfer: dict[str, Any], lang: str, layout: str) -> None:
    w = _open(browser, net, lang, layout)
    try:
        p = w.page
        width = (MOBILE if layout == "mobile" else DESKTOP)["width"]
        p.goto("/#/explorer")
        _find_row(p, transfer["height"])
        assert p.evaluate("document.documentElement.scrollWidth") <= width
        assert not _critical(p)
        if os.environ.get("HKCHAIN_UPDATE_SCREENSHOTS") == "1":
            p.screenshot(path=str(SHOTS / f"explorer-{lang}-{layout}.png"), full_page=True)
        p.goto(f"/#/explorer/{transfer['height']}")
        assert _badge(w) == "verified"
        assert p.evaluate("document.documentElement.scrollWidth") <= width
        assert not _critical(p)
        if os.environ.get("HKCHAIN_UPDATE_SCREENSHOTS") == "1":
            p.screenshot(path=str(SHOTS / f"explorer-block-{lang}-{layout}.png"), full_page=True)
        assert w.console_errors == [] and w.csp_violations() == []
    finally:
        w.context.close()
