"""The browser's light client across a governed validator-set change, against a made-up
chain served through Playwright's request routing: genesis names set A; set B takes
effect at height 4 (decided at 2, so the state of height 3 schedules it). The client
learns B only from a state proof under a header A certified, and refuses a header of the
new set that its schedule does not explain, or a schedule its proof does not prove."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import pytest

from core import codec
from core.crypto import PrivateKey
from core.render import block_json
from core.types import (
    VOTE_COMMIT,
    Block,
    BlockHeader,
    CommitCertificate,
    Validator,
    ValidatorSet,
    Vote,
)
from tests.web.browser import Watched

if TYPE_CHECKING:
    from playwright.sync_api import Route

CHAIN = "hk-fake"
SET_A = [PrivateKey.from_seed_text(f"a{i}") for i in range(4)]
SET_B = [PrivateKey.from_seed_text(f"b{i}") for i in range(4)]
CHANGE_AT = 4
TOP = 7
VALIDATORS_KEY = b"sys/validators"


def _valset(keys: list[PrivateKey], prefix: str) -> ValidatorSet:
    return ValidatorSet(tuple(Validator(k.public_key, f"{prefix}{i}") for i, k in enumerate(keys)))


def _leaf_root(key: bytes, value: bytes) -> bytes:
    """The root of a state holding one key: that key's leaf hash (PROTOCOL.md section 8)."""
    return hashlib.sha256(b"\x10" + hashlib.sha256(key).digest() + hashlib.sha256(value).digest()).digest()


class FakeChain:
    def __init__(self, *, explain_change: bool = True, signers_after: list[PrivateKey] = SET_B) -> None:
        a, b = _valset(SET_A, "a"), _valset(SET_B, "b")
        schedule: list[Any] = [[0, [[v.public_key, v.name] for v in a.validators]]]
        if explain_change:
            schedule.append([CHANGE_AT, [[v.public_key, v.name] for v in b.validators]])
        self.schedule_bytes = codec.encode(schedule)
        root = _leaf_root(VALIDATORS_KEY, self.schedule_bytes)
        self.blocks: dict[int, dict[str, Any]] = {}
        prev = bytes(32)
        for h in range(TOP + 1):
            vs = a if h < CHANGE_AT else b
            header = BlockHeader(CHAIN, h, prev, bytes(32), root, bytes(32),
                                 bytes(32) if h == 0 else vs.validators[0].public_key, 0,
                                 1_700_000_000_000 + h * 1000, vs.hash)
            signers = [] if h == 0 else (SET_A if h < CHANGE_AT else signers_after)[:3]
            cert = None if h == 0 else CommitCertificate.from_votes(
                [Vote.create(k, VOTE_COMMIT, CHAIN, h, 0, header.hash) for k in signers])
            self.blocks[h] = block_json(Block(header, ()), cert)
            prev = header.hash
        self.genesis_hash = self.blocks[0]["hash"]
        self.current = b

    def answer(self, route: Route) -> None:
        url = route.request.url
        path = url.split("/v1/", 1)[1]
        if path.startswith("status"):
            doc: Any = {"chain_id": CHAIN, "genesis_hash": self.genesis_hash, "height": TOP,
                        "validators": [{"public_key": v.public_key.hex(), "name": v.name}
                                       for v in self.current.validators]}
        elif path.startswith("blocks/"):
            which = path.split("/")[1]
            doc = self.blocks[TOP if which == "latest" else int(which)]
        elif path.startswith("proofs/"):
            height = int(url.split("height=")[1]) if "height=" in url else TOP
            doc = {"key": VALIDATORS_KEY.hex(), "value": self.schedule_bytes.hex(), "height": height,
                   "proof_encoded": codec.encode([0, [], b"", b""]).hex()}
        else:
            route.fulfill(status=404, body='{"error": {"code": "not_found", "message": ""}}')
            return
        route.fulfill(status=200, content_type="application/json", body=json.dumps(doc))


def _run(page: Watched, chain: FakeChain) -> dict[str, Any]:
    p = page.page
    p.goto("/")
    p.wait_for_selector("main h2")
    p.route("**/v1/status", chain.answer)
    p.route("**/v1/blocks/*", chain.answer)
    p.route("**/v1/proofs/**", chain.answer)
    result: dict[str, Any] = p.evaluate("""async (genesis) => {
        localStorage.setItem('hkchain.genesis', genesis);
        const { LightClient } = await import('/static/js/light.js');
        const lc = new LightClient();
        try {
          const early = await lc.header(2);
          const late = await lc.header('latest');
          return { ok: true, early: early.height, late: late.height, sets: lc.sets.map((s) => s.from) };
        } catch (e) { return { ok: false, code: e.code || String(e) }; }
    }""", chain.genesis_hash)
    return result


def test_the_client_follows_a_governed_change(page: Watched) -> None:
    assert _run(page, FakeChain()) == {"ok": True, "early": 2, "late": TOP, "sets": [0, CHANGE_AT]}


def test_a_set_the_schedule_does_not_explain_is_refused(page: Watched) -> None:
    assert _run(page, FakeChain(explain_change=False)) == {"ok": False, "code": "validators_changed"}


def test_old_validators_cannot_certify_for_the_new_set(page: Watched) -> None:
    # Headers after the change name set B but carry A's signatures.
    result = _run(page, FakeChain(signers_after=SET_A))
    assert result == {"ok": False, "code": "bad_certificate"}


@pytest.mark.parametrize("tamper", ["value", "proof"])
def test_a_schedule_its_proof_does_not_prove_is_refused(page: Watched, tamper: str) -> None:
    chain = FakeChain()
    honest = chain.answer

    def lying(route: Route) -> None:
        if "/v1/proofs/" in route.request.url:
            fake = codec.encode([[0, [[k.public_key, "x"] for k in SET_B]]])
            proof = codec.encode([1, [], b"", b""])  # "absent"
            doc = {"value": fake.hex() if tamper == "value" else chain.schedule_bytes.hex(),
                   "proof_encoded": (codec.encode([0, [], b"", b""]) if tamper == "value" else proof).hex()}
            route.fulfill(status=200, content_type="application/json", body=json.dumps(doc))
            return
        honest(route)

    chain.answer = lying  # type: ignore[method-assign]
    result = _run(page, chain)
    assert result["ok"] is False and result["code"] in ("bad_proof", "validators_changed"), result
