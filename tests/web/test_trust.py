"""Trust no node: the page shows a value as verified only when the certificate and the
state proof check. A node that lies — a forged certificate signature, a changed header,
a value that its proof does not prove, a genesis of another chain, a work whose bytes
differ from the hash on chain — is caught in the browser, and the value is shown as not
verified (Playwright rewrites the node's answers on their way to the page)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.web.browser import Watched

if TYPE_CHECKING:
    from playwright.sync_api import Route

PASSPHRASE = "我家住在三楼东边"
WAIT_MS = 60_000


def _with_key(page: Watched) -> None:
    p = page.page
    p.goto("/#/me")
    p.get_by_test_id("new-passphrase").fill(PASSPHRASE)
    p.get_by_test_id("new-passphrase-again").fill(PASSPHRASE)
    p.get_by_test_id("create-key").click()
    p.get_by_test_id("my-address").wait_for(timeout=WAIT_MS)


def _rewrite(page: Watched, pattern: str, change: Callable[[dict[str, Any]], None]) -> None:
    def handle(route: Route) -> None:
        resp = route.fetch()
        doc = resp.json()
        change(doc)
        route.fulfill(response=resp, body=json.dumps(doc))

    page.page.route(pattern, handle)


def _flip(hex_text: str, at: int) -> str:
    b = bytearray(bytes.fromhex(hex_text))
    b[at] ^= 1
    return b.hex()


def _balance_badge(page: Watched) -> str:
    p = page.page
    p.goto("/#/home")
    tile = p.get_by_test_id("tile-balance")
    tile.locator("[data-testid=verified], [data-testid=unverified]").first.wait_for(timeout=WAIT_MS)
    return "verified" if tile.get_by_test_id("verified").count() else "unverified"


def test_an_honest_node_is_verified(page: Watched) -> None:
    _with_key(page)
    assert _balance_badge(page) == "verified"  # 0 points: proved absent
    assert "已由居委会节点的多数签名确认" in page.page.get_by_test_id("trust-line").inner_text() or \
        "首次使用" in page.page.get_by_test_id("trust-line").inner_text()


def test_a_forged_certificate_signature_is_refused(page: Watched) -> None:
    _with_key(page)

    def forge(doc: dict[str, Any]) -> None:
        if doc.get("certificate"):
            enc = doc["certificate"]["encoded"]
            doc["certificate"]["encoded"] = _flip(enc, len(enc) // 2 - 3)  # inside the last signature

    _rewrite(page, "**/v1/blocks/*", forge)
    assert _balance_badge(page) == "unverified"


def test_a_changed_header_is_refused(page: Watched) -> None:
    _with_key(page)

    def change(doc: dict[str, Any]) -> None:
        if doc.get("height", 0) > 0:
            doc["header"]["encoded"] = _flip(doc["header"]["encoded"], 40)  # inside prev_hash

    _rewrite(page, "**/v1/blocks/*", change)
    assert _balance_badge(page) == "unverified"


def test_a_value_its_proof_does_not_prove_is_refused(page: Watched) -> None:
    _with_key(page)

    def lie(doc: dict[str, Any]) -> None:
        doc["value"] = "cd2710"  # 10000 points, with the proof of "absent"

    _rewrite(page, "**/v1/proofs/*", lie)
    assert _balance_badge(page) == "unverified"
    assert "10,000" not in page.page.get_by_test_id("tile-balance").inner_text()


def test_a_node_of_another_genesis_is_refused(page: Watched) -> None:
    p = page.page
    p.goto("/#genesis=" + "ab" * 32)  # the address printed for another chain
    p.wait_for_selector("main h2")
    _with_key(page)
    assert _balance_badge(page) == "unverified"
    p.goto("/#/home")
    p.get_by_test_id("trust-line").filter(has_text="wrong_genesis").wait_for(timeout=WAIT_MS)
