"""The browser's codec, addresses, tx signing and key files against the Python reference
(core/), run in Chromium on the app's own page (so under its CSP): the same values give
the same bytes, the same bytes are refused, the same seed signs the same tx, and key files
written by either side open on the other."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from core import codec
from core.codec import Value
from core.crypto import PrivateKey
from core.errors import DecodeError
from core.types import Tx
from tests.web.browser import Watched
from tests.web.jsvalues import JS_TAGGED, from_tagged, to_tagged

INT_EDGES = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53 - 1, 2**53, 2**53 + 1,
             2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**255, 2**262 - 1, -(2**71), -(2**255), -1, -31, -32, -33, -128, -129,
             -32768, -32769, -(2**31), -(2**31) - 1, -(2**53) - 1, -(2**63), -(2**63) - 1, -(2**262)]
STR_EDGES = ["", "a", "a" * 31, "a" * 32, "a" * 255, "a" * 256, "b" * 65535, "b" * 65536,
             "虹口区", "😀", "\x00", "居委会 🏠 ok"]
BYTES_EDGES = [b"", b"\x00", bytes(255), bytes(256), bytes(range(256)) * 256]


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice(INT_EDGES) + rng.choice([0, 0, 1, -1])
    if kind == 2:
        return "".join(rng.choice("aZ0_/虹口😀\uffff\u00e9") for _ in range(rng.randrange(40)))
    if kind == 3:
        return rng.randbytes(rng.randrange(70))
    if kind == 4:
        return rng.randrange(-(2**70), 2**70)
    if kind == 5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(18))]
    keys = ["".join(rng.choice("ab😀\uff5eZ") for _ in range(rng.randrange(1, 4))) for _ in range(rng.randrange(18))]
    return {k: _random_value(rng, depth + 1) for k in keys}


def _values() -> list[Any]:
    rng = random.Random(20261130)
    fixed: list[Any] = [None, True, False, *INT_EDGES, *STR_EDGES, *BYTES_EDGES,
                        list(range(15)), list(range(16)), list(range(70000)),
                        {f"k{i}": i for i in range(15)}, {f"k{i}": i for i in range(16)},
                        {"\uff5e": 1, "😀": 2, "a": 3, "B": 4, "": 5}, [[[[]]]], {"a": {"b": {}}}]
    return fixed + [_random_value(rng) for _ in range(400)]


BAD_ENCODINGS = [
    "cb3ff0000000000000",  # float 64
    "ca3f800000",  # float 32
    "cc05",  # 5 as uint8: not the shortest form
    "cd00ff",  # 255 as uint16
    "d0ff",  # -1 as int8
    "d9016161",  # wrong length prefix
    "d90161",  # "a" as str8
    "c4",  # truncated bin
    "82a16201a16101",  # map keys out of order
    "82a16101a16102",  # duplicate key
    "8101a0",  # int key
    "c0c0",  # trailing byte
    "d40105",  # 5 as an ext bigint
    "d40205",  # unknown ext type
    "a2c328",  # invalid UTF-8
    "c1",  # never used
    "",  # empty
    "91",  # a fixarray of one with nothing after
]


@pytest.fixture()
def app_page(page: Watched) -> Watched:
    page.page.goto("/")
    page.page.wait_for_selector("main h2")
    page.page.evaluate(JS_TAGGED)
    return page


def test_every_python_refusal_is_real() -> None:
    for hexed in BAD_ENCODINGS:
        with pytest.raises(DecodeError):
            codec.decode(bytes.fromhex(hexed))


def test_codec_matches_the_reference_both_ways(app_page: Watched) -> None:
    values = _values()
    expected = [codec.encode(v).hex() for v in values]
    got = app_page.page.evaluate("""async (vals) => {
        const c = await import('/static/js/codec.js');
        const b = await import('/static/js/bytes.js');
        return vals.map((t) => b.toHex(c.encode(fromTagged(t))));
    }""", [to_tagged(v) for v in values])
    mismatches = [(i, values[i]) for i in range(len(values)) if got[i] != expected[i]]
    assert not mismatches[:3]
    decoded = app_page.page.evaluate("""async (hexes) => {
        const c = await import('/static/js/codec.js');
        const b = await import('/static/js/bytes.js');
        return hexes.map((h) => toTagged(c.decode(b.fromHex(h), 1 << 24)));
    }""", expected)
    reference = [codec.decode(bytes.fromhex(h), 1 << 24) for h in expected]
    assert [from_tagged(d) for d in decoded] == reference


def test_codec_refuses_what_the_reference_refuses(app_page: Watched) -> None:
    verdicts = app_page.page.evaluate("""async (hexes) => {
        const c = await import('/static/js/codec.js');
        const b = await import('/static/js/bytes.js');
        return hexes.map((h) => { try { c.decode(b.fromHex(h)); return 'accepted'; }
                                   catch (e) { return e instanceof c.DecodeError ? 'refused' : 'crashed: ' + e; } });
    }""", BAD_ENCODINGS)
    assert verdicts == ["refused"] * len(BAD_ENCODINGS)
    refused = app_page.page.evaluate("""async () => {
        const c = await import('/static/js/codec.js');
        const out = [];
        for (const v of [1.5, NaN, undefined, new Map([[1, 2]]), 2n ** 300n, new Date(0)]) {
          try { c.encode(v); out.push('encoded'); } catch (e) { out.push(e instanceof c.EncodeError); }
        }
        return out;
    }""")
    assert refused == [True] * 6


def test_addresses_and_signed_txs_match(app_page: Watched) -> None:
    cases = []
    arg_lists: list[list[Value]] = [
        [], ["hk1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", 100], [b"\x01" * 32, "2027-01", [["电梯", 1200]]],
        [{"title": "加装电梯", "n": 2**70, "z": None}, True, -5], ["😀" * 40, list(range(20))],
    ]
    for i, args in enumerate(arg_lists):
        key = PrivateKey.from_seed_text(f"resident{i}")
        tx = Tx("hk-local", key.public_key, i * 7, "property", "pay_bill", tuple(args), 1000 + i, 99 + i)
        stx = tx.sign(key)
        cases.append({"seed": key.seed.hex(), "address": key.address, "tx": to_tagged(tx.to_value()),
                      "hash": tx.hash.hex(), "signed": stx.encode().hex()})
    got = app_page.page.evaluate("""async (cases) => {
        const k = await import('/static/js/keys.js');
        const t = await import('/static/js/tx.js');
        const b = await import('/static/js/bytes.js');
        const out = [];
        for (const c of cases) {
          const key = await k.keyFromSeed(b.fromHex(c.seed));
          const s = await t.signTx(fromTagged(c.tx), key.privateKey);
          const ok = await k.verify(key.publicKey, s.hash, s.signature);
          const forged = await k.verify(key.publicKey, s.hash.map((x, i) => i === 0 ? x ^ 1 : x), s.signature);
          out.push({address: key.address, hash: s.hashHex, signed: s.hex, ok, forged});
        }
        return out;
    }""", cases)
    for case, g in zip(cases, got, strict=True):
        assert g == {"address": case["address"], "hash": case["hash"], "signed": case["signed"],
                     "ok": True, "forged": False}


def test_address_parsing_catches_typos(app_page: Watched) -> None:
    address = PrivateKey.from_seed_text("resident").address
    typo = address[:-3] + ("q" if address[-3] != "q" else "p") + address[-2:]
    got = app_page.page.evaluate("""async ([a, typo]) => {
        const m = await import('/static/js/bech32.js');
        return [m.parseAddress(a) !== null, m.parseAddress(typo), m.parseAddress('xx1qqqqqqqq'), m.parseAddress(a.toUpperCase()) !== null];
    }""", [address, typo])
    assert got == [True, None, None, True]


def test_key_files_open_on_both_sides(app_page: Watched, tmp_path: Path) -> None:
    p = app_page.page
    key = PrivateKey.from_seed_text("key-file")
    key.save(tmp_path / "plain.key")
    key.save(tmp_path / "sealed.key", passphrase="虹口 passphrase")
    docs = [json.loads((tmp_path / n).read_text()) for n in ("plain.key", "sealed.key")]
    got = p.evaluate("""async ([plain, sealed]) => {
        const k = await import('/static/js/keys.js');
        const b = await import('/static/js/bytes.js');
        const code = async (f) => { try { await f(); return 'opened'; } catch (e) { return e.code; } };
        return {
          plain: b.toHex(await k.seedFromKeyFile(plain)),
          sealed: b.toHex(await k.seedFromKeyFile(sealed, '虹口 passphrase')),
          wrong: await code(() => k.seedFromKeyFile(sealed, 'wrong')),
          missing: await code(() => k.seedFromKeyFile(sealed)),
          tampered: await code(() => k.seedFromKeyFile({...plain, public_key: '00'.repeat(32)})),
        };
    }""", docs)
    assert got == {"plain": key.seed.hex(), "sealed": key.seed.hex(), "wrong": "wrong_passphrase",
                   "missing": "passphrase_needed", "tampered": "bad_key_file"}
    made = p.evaluate("""async () => {
        const k = await import('/static/js/keys.js');
        const b = await import('/static/js/bytes.js');
        const seed = await k.generateSeed();
        return {seed: b.toHex(seed), plain: await k.keyFile(seed), sealed: await k.keyFile(seed, '小区 2027')};
    }""")
    (tmp_path / "js-plain.key").write_text(json.dumps(made["plain"]))
    (tmp_path / "js-sealed.key").write_text(json.dumps(made["sealed"]))
    assert PrivateKey.load(tmp_path / "js-plain.key").seed.hex() == made["seed"]
    loaded = PrivateKey.load(tmp_path / "js-sealed.key", passphrase="小区 2027")
    assert loaded.seed.hex() == made["seed"]
    assert made["sealed"]["address"] == loaded.address and "seed" not in made["sealed"]
    assert app_page.console_errors == []
