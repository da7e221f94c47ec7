"""The browser's codec, keys, txs, certificates, state proofs and Merkle roots pass the
protocol's known-answer vectors (docs/vectors, PROTOCOL.md), run in Chromium on the app's
page. Each check also has a must-fail twin, so a checker that accepts everything fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.web.browser import Watched

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"

# The vectors' typed values (["int", "1"], ["bytes", "00"], ["map", [[k, v]]]…) in the page.
JS_TYPED = """() => {
globalThis.fromTyped = function fromTyped(t) {
  const [kind, v] = t;
  switch (kind) {
    case 'nil': return null;
    case 'bool': return v;
    case 'int': { const b = BigInt(v); return (b >= -9007199254740991n && b <= 9007199254740991n) ? Number(b) : b; }
    case 'str': return v;
    case 'bytes': { const o = new Uint8Array(v.length / 2);
      for (let i = 0; i < o.length; i++) o[i] = parseInt(v.slice(2 * i, 2 * i + 2), 16); return o; }
    case 'list': return v.map(fromTyped);
    case 'map': { const o = {}; for (const [k, x] of v) o[k] = fromTyped(x); return o; }
  }
  throw new Error('bad typed value ' + kind);
};
}
"""


def _load(name: str) -> Any:
    return json.loads((VECTORS / f"{name}.json").read_text())


@pytest.fixture()
def vpage(page: Watched) -> Watched:
    page.page.goto("/")
    page.page.wait_for_selector("main h2")
    page.page.evaluate(JS_TYPED)
    return page


def test_codec_vectors(vpage: Watched) -> None:
    doc = _load("codec")
    got = vpage.page.evaluate("""async (doc) => {
        const c = await import('/static/js/codec.js');
        const b = await import('/static/js/bytes.js');
        const enc = doc.valid.map((v) => b.toHex(c.encode(fromTyped(v.value))) === v.hex);
        const dec = doc.valid.map((v) => b.toHex(c.encode(c.decode(b.fromHex(v.hex)))) === v.hex);
        const bad = doc.invalid.map((v) => { try { c.decode(b.fromHex(v.hex)); return v.name; } catch (e) { return e instanceof c.DecodeError ? null : v.name + ': ' + e; } });
        return {enc, dec, bad};
    }""", doc)
    assert len(got["enc"]) == len(doc["valid"]) > 10
    assert [v["name"] for v, ok in zip(doc["valid"], got["enc"], strict=True) if not ok] == []
    assert [v["name"] for v, ok in zip(doc["valid"], got["dec"], strict=True) if not ok] == []
    assert [b for b in got["bad"] if b is not None] == [] and len(got["bad"]) == len(doc["invalid"])


def test_key_and_address_vectors(vpage: Watched) -> None:
    doc = _load("keys")
    got = vpage.page.evaluate("""async (doc) => {
        const k = await import('/static/js/keys.js');
        const m = await import('/static/js/bech32.js');
        const b = await import('/static/js/bytes.js');
        const keys = [];
        for (const v of doc.keys) {
          const key = await k.keyFromSeed(b.fromHex(v.seed));
          const payload = m.parseAddress(v.address);
          keys.push(b.toHex(key.publicKey) === v.public_key && key.address === v.address &&
                    payload !== null && b.toHex(payload) === v.address_payload);
        }
        const invalid = doc.invalid_addresses.map((v) => m.parseAddress(v.address) === null);
        const plain = b.toHex(await k.seedFromKeyFile(doc.key_file_plain));
        const enc = doc.key_file_encrypted;
        const sealed = b.toHex(await k.seedFromKeyFile(enc.file, enc.passphrase));
        let wrong = 'opened';
        try { await k.seedFromKeyFile(enc.file, enc.passphrase + '!'); } catch (e) { wrong = e.code; }
        return {keys, invalid, plain, sealed, wrong, argon2: k.ARGON2};
    }""", doc)
    assert got["keys"] == [True] * len(doc["keys"])
    assert got["invalid"] == [True] * len(doc["invalid_addresses"])
    assert got["plain"] == doc["key_file_plain"]["seed"]
    assert got["sealed"] == doc["key_file_encrypted"]["seed"]
    assert got["wrong"] == "wrong_passphrase"
    limits = doc["key_file_encrypted"]["argon2id"]
    assert got["argon2"]["iterations"] == limits["opslimit"]
    assert got["argon2"]["memorySize"] * 1024 == limits["memlimit_bytes"]


def test_tx_vectors(vpage: Watched) -> None:
    doc = _load("tx")
    got = vpage.page.evaluate("""async (doc) => {
        const k = await import('/static/js/keys.js');
        const t = await import('/static/js/tx.js');
        const c = await import('/static/js/codec.js');
        const b = await import('/static/js/bytes.js');
        const out = [];
        for (const v of doc.txs) {
          const f = v.fields;
          const tx = t.txValue({chainId: f.chain_id, sender: b.fromHex(f.sender), nonce: f.nonce, contract: f.contract,
                                method: f.method, args: f.args.map(fromTyped), maxFee: f.max_fee, expiryHeight: f.expiry_height});
          const key = await k.keyFromSeed(b.fromHex(v.seed));
          const s = await t.signTx(tx, key.privateKey);
          out.push({encoded: b.toHex(c.encode(tx)), hash: s.hashHex, signature: b.toHex(s.signature), signed: s.hex});
        }
        return out;
    }""", doc)
    assert len(got) == len(doc["txs"]) > 0
    for v, g in zip(doc["txs"], got, strict=True):
        assert g == {"encoded": v["tx_encoded"], "hash": v["tx_hash"], "signature": v["signature"],
                     "signed": v["signed_tx_encoded"]}, v["name"]


def test_chain_vectors_certificate_checks(vpage: Watched) -> None:
    doc = _load("chain")
    got = vpage.page.evaluate("""async (doc) => {
        const v = await import('/static/js/verify.js');
        const b = await import('/static/js/bytes.js');
        const vals = doc.validator_set.validators.map((x) => ({publicKey: b.fromHex(x.public_key), name: x.name}));
        const setHash = b.toHex(await v.validatorSetHash(vals));
        const header = v.decodeHeader(b.fromHex(doc.header.encoded));
        const headerHash = b.toHex(await b.taggedHash(b.DOMAIN_HEADER, b.fromHex(doc.header.encoded)));
        const votes = [];
        const k = await import('/static/js/keys.js');
        for (const x of doc.votes) {
          const bytes = v.voteSigningBytes(x.kind, x.chain_id, x.height, x.view, b.fromHex(x.block_hash));
          votes.push(b.toHex(bytes) === x.signing_bytes && await k.verify(b.fromHex(x.validator), bytes, b.fromHex(x.signature)));
        }
        const cert = v.decodeCertificate(b.fromHex(doc.certificate.encoded));
        const outcome = async (f) => { try { await f(); return 'ok'; } catch (e) { return e.code; } };
        const good = await outcome(() => v.verifyCertificate(cert, doc.header.fields.chain_id, vals));
        const otherChain = await outcome(() => v.verifyCertificate(cert, 'another-chain', vals));
        const short = await outcome(() => v.verifyCertificate({...cert, signatures: cert.signatures.slice(1)}, cert.chainId, vals));
        const forged = cert.signatures.map(([k, s], i) => [k, i === 0 ? s.map((x, j) => j === 5 ? x ^ 1 : x) : s]);
        const bad = await outcome(() => v.verifyCertificate({...cert, signatures: forged}, cert.chainId, vals));
        const stranger = await outcome(() => v.verifyCertificate(cert, cert.chainId, vals.slice(1)));
        return {setHash, quorum: v.quorum(vals.length), headerHash, height: header.height,
                stateRoot: b.toHex(header.stateRoot), votes, certHash: b.toHex(cert.blockHash),
                good, otherChain, short, bad, stranger};
    }""", doc)
    assert got["setHash"] == doc["validator_set"]["hash"]
    assert got["quorum"] == doc["validator_set"]["quorum"]
    assert got["headerHash"] == doc["header"]["hash"] == got["certHash"]
    assert got["height"] == doc["header"]["fields"]["height"]
    assert got["stateRoot"] == doc["header"]["fields"]["state_root"]
    assert got["votes"] == [True] * len(doc["votes"])
    assert got["good"] == "ok"
    assert got["otherChain"] == "wrong_chain"
    assert got["short"] == "no_quorum"
    assert got["bad"] == "bad_signature"
    assert got["stranger"] == "bad_certificate"


def test_state_proof_vectors(vpage: Watched) -> None:
    doc = _load("state")
    got = vpage.page.evaluate("""async (doc) => {
        const v = await import('/static/js/verify.js');
        const b = await import('/static/js/bytes.js');
        const root = b.fromHex(doc.root);
        const check = async (p, value) => v.verifyStateProof(root, b.fromHex(p.key), value === null ? null : b.fromHex(value), v.decodeStateProof(b.fromHex(p.proof_encoded)));
        const proofs = {inclusion: doc.inclusion, absence_empty_slot: doc.absence_empty_slot, absence_other_leaf: doc.absence_other_leaf};
        const out = {};
        for (const [name, p] of Object.entries(proofs)) out[name] = await check(p, p.value);
        const m = doc.must_not_verify;
        out.must_not_verify = await check({...proofs[m.proof], key: m.key}, m.value);
        out.absent_claimed_present = await check(doc.absence_empty_slot, '00');
        out.present_claimed_absent = await check(doc.inclusion, null);
        out.other_root = await v.verifyStateProof(b.fromHex(doc.empty_root), b.fromHex(doc.inclusion.key), b.fromHex(doc.inclusion.value), v.decodeStateProof(b.fromHex(doc.inclusion.proof_encoded)));
        return out;
    }""", doc)
    assert got == {"inclusion": True, "absence_empty_slot": True, "absence_other_leaf": True,
                   "must_not_verify": False, "absent_claimed_present": False,
                   "present_claimed_absent": False, "other_root": False}


def test_merkle_vectors(vpage: Watched) -> None:
    doc = _load("merkle")
    got = vpage.page.evaluate("""async (doc) => {
        const v = await import('/static/js/verify.js');
        const b = await import('/static/js/bytes.js');
        const roots = [];
        for (const r of doc.roots) roots.push(b.toHex(await v.merkleRoot(r.leaves.map(b.fromHex))) === r.root);
        const proofs = [];
        for (const p of doc.proofs) {
          const path = p.path.map(b.fromHex);
          const ok = await v.verifyMerkleProof(b.fromHex(p.root), b.fromHex(p.leaf), p.index, p.size, path);
          const moved = p.size > 1 && await v.verifyMerkleProof(b.fromHex(p.root), b.fromHex(p.leaf), (p.index + 1) % p.size, p.size, path);
          proofs.push(ok && !moved);
        }
        return {roots, proofs};
    }""", doc)
    assert got["roots"] == [True] * len(doc["roots"])
    assert got["proofs"] == [True] * len(doc["proofs"])
