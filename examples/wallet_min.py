#!/usr/bin/env python3
"""A minimal hkchain wallet written from docs/PROTOCOL.md alone.

It uses PyNaCl, msgpack and the standard library, and nothing of the hkchain project, so
it shows that the protocol document is enough to build a client. Two commands:

  python examples/wallet_min.py vectors docs/vectors
      check this implementation against every known-answer vector;

  python examples/wallet_min.py transfer --rpc http://127.0.0.1:26600 \\
      --key localnet/operator.key --genesis localnet/genesis.json --to hk1… --amount 5
      sign a transfer, submit it, wait until it commits, then fetch the recipient's and
      the sender's balances with state proofs and verify each one against a block header
      whose commit certificate it checks against the validators of the genesis file.

Every check raises VerifyError; nothing the node says is trusted without one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import msgpack
import nacl.bindings
import nacl.exceptions
import nacl.pwhash
import nacl.secret


class VerifyError(Exception):
    """Something did not check out: a vector, a signature, a proof, a node's answer."""


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# --- section 2: canonical msgpack ----------------------------------------------------------

MIN_NATIVE, MAX_NATIVE = -(1 << 63), (1 << 64) - 1
EXT_BIGINT = 1
MAX_BIGINT_BYTES = 33


def _canon(v: Any) -> Any:
    """The msgpack-ready form: maps sorted by key code points, big ints as ext type 1."""
    if v is None or isinstance(v, bool | str | bytes):
        return v
    if isinstance(v, int):
        if MIN_NATIVE <= v <= MAX_NATIVE:
            return v
        n = (v.bit_length() + 8) // 8
        if n > MAX_BIGINT_BYTES:
            raise ValueError("integer too large")
        return msgpack.ExtType(EXT_BIGINT, v.to_bytes(n, "big", signed=True))
    if isinstance(v, list | tuple):
        return [_canon(x) for x in v]
    if isinstance(v, dict):
        if not all(isinstance(k, str) for k in v):
            raise ValueError("map keys must be str")
        return {k: _canon(v[k]) for k in sorted(v)}
    raise ValueError(f"not a Value: {type(v).__name__}")


def encode(v: Any) -> bytes:
    out: bytes = msgpack.packb(_canon(v), use_bin_type=True)
    return out


def _ext_hook(code: int, data: bytes) -> int:
    if code != EXT_BIGINT or not 0 < len(data) <= MAX_BIGINT_BYTES:
        raise VerifyError("foreign ext type")
    return int.from_bytes(data, "big", signed=True)


def _no_floats(v: Any) -> None:
    if isinstance(v, float):
        raise VerifyError("floats are not Values")
    if isinstance(v, list):
        for x in v:
            _no_floats(x)
    if isinstance(v, dict):
        for x in v.values():
            _no_floats(x)


def decode(data: bytes) -> Any:
    """Strict: a Value whose canonical encoding is exactly ``data``."""
    try:
        v = msgpack.unpackb(data, raw=False, strict_map_key=True, ext_hook=_ext_hook)
    except VerifyError:
        raise
    except Exception as exc:
        raise VerifyError(f"undecodable: {type(exc).__name__}") from exc
    _no_floats(v)
    if encode(v) != data:
        raise VerifyError("not the canonical encoding")
    return v


def from_typed(t: Any) -> Any:
    """A Value from the vectors' typed JSON form."""
    kind = t[0]
    if kind == "nil":
        return None
    if kind == "bool":
        return bool(t[1])
    if kind == "int":
        return int(t[1])
    if kind == "str":
        return t[1]
    if kind == "bytes":
        return bytes.fromhex(t[1])
    if kind == "list":
        return [from_typed(x) for x in t[1]]
    if kind == "map":
        return {k: from_typed(x) for k, x in t[1]}
    raise ValueError(kind)


# --- section 3: hashes -------------------------------------------------------------------

DOMAIN_TX = b"hkchain/tx/1\x00"
DOMAIN_HEADER = b"hkchain/header/1\x00"
DOMAIN_VOTE = b"hkchain/vote/1\x00"
DOMAIN_VALSET = b"hkchain/valset/1\x00"


# --- section 5: keys and addresses ----------------------------------------------------------

_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values: list[int]) -> int:
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _regroup(data: bytes | list[int], frm: int, to: int, pad: bool) -> list[int] | None:
    acc = bits = 0
    out = []
    for b in data:
        acc = acc << frm | b
        bits += frm
        while bits >= to:
            bits -= to
            out.append(acc >> bits & (1 << to) - 1)
    if pad and bits:
        out.append(acc << (to - bits) & (1 << to) - 1)
    elif not pad and (bits >= frm or acc << (to - bits) & (1 << to) - 1):
        return None
    return out


def address_of(public_key: bytes) -> str:
    data = _regroup(sha256(public_key)[:20], 8, 5, True)
    assert data is not None
    check = _polymod([*_hrp_expand("hk"), *data, 0, 0, 0, 0, 0, 0]) ^ 1
    data += [check >> 5 * (5 - i) & 31 for i in range(6)]
    return "hk1" + "".join(_BECH32[d] for d in data)


def parse_address(text: str) -> bytes:
    """The 20-byte payload, or VerifyError."""
    if len(text) > 90 or text.lower() != text or not text.startswith("hk1"):
        raise VerifyError("not an hk1 address in lower case")
    try:
        data = [_BECH32.index(c) for c in text[3:]]
    except ValueError:
        raise VerifyError("character outside the bech32 alphabet") from None
    if len(data) < 6 or _polymod([*_hrp_expand("hk"), *data]) != 1:
        raise VerifyError("bad checksum")
    payload = _regroup(data[:-6], 5, 8, False)
    if payload is None or len(payload) != 20:
        raise VerifyError("payload is not 20 bytes")
    return bytes(payload)


class Key:
    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise VerifyError("a seed is 32 bytes")
        self.seed = seed
        pk, self._sk = nacl.bindings.crypto_sign_seed_keypair(seed)
        self.public_key = bytes(pk)
        self.address = address_of(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return bytes(nacl.bindings.crypto_sign(message, self._sk)[:64])


def load_key_file(doc: dict[str, Any], passphrase: str | None = None) -> Key:
    if doc.get("type") != "ed25519":
        raise VerifyError("not an hkchain key file")
    if "encryption" in doc:
        enc = doc["encryption"]
        if enc.get("kdf") != "argon2id" or passphrase is None:
            raise VerifyError("an encrypted key file needs its passphrase")
        box_key = nacl.pwhash.argon2id.kdf(
            32, passphrase.encode(), bytes.fromhex(enc["salt"]),
            opslimit=nacl.pwhash.argon2id.OPSLIMIT_MODERATE,
            memlimit=nacl.pwhash.argon2id.MEMLIMIT_MODERATE)
        try:
            seed = nacl.secret.SecretBox(box_key).decrypt(bytes.fromhex(enc["box"]))
        except nacl.exceptions.CryptoError:
            raise VerifyError("wrong passphrase") from None
    else:
        seed = bytes.fromhex(doc["seed"])
    key = Key(bytes(seed))
    if doc.get("public_key", key.public_key.hex()) != key.public_key.hex():
        raise VerifyError("the key file's public key does not match its secret")
    return key


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    if len(public_key) != 32 or len(signature) != 64:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except (nacl.exceptions.BadSignatureError, ValueError):
        return False
    return True


# --- section 4: txs ------------------------------------------------------------------------


def tx_value(chain_id: str, sender: bytes, nonce: int, contract: str, method: str,
             args: list[Any], max_fee: int, expiry_height: int) -> list[Any]:
    return [1, chain_id, sender, nonce, contract, method, args, max_fee, expiry_height]


def sign_tx(key: Key, tx: list[Any]) -> tuple[bytes, bytes]:
    """(tx hash, signed tx bytes)."""
    tx_hash = sha256(DOMAIN_TX + encode(tx))
    return tx_hash, encode([2, tx, key.sign(tx_hash)])


# --- section 6: validator sets, votes, certificates ---------------------------------------


def valset_hash(validators: list[tuple[bytes, str]]) -> bytes:
    return sha256(DOMAIN_VALSET + encode([10, [[9, pk, name] for pk, name in validators]]))


def vote_signing_bytes(kind: int, chain_id: str, height: int, view: int, block_hash: bytes) -> bytes:
    return DOMAIN_VOTE + encode([kind, chain_id, height, view, block_hash])


def check_certificate(cert_bytes: bytes, header_bytes: bytes,
                      validators: list[tuple[bytes, str]]) -> dict[str, Any]:
    """The header's fields if ``cert_bytes`` is a quorum of COMMITs of ``validators`` on
    exactly ``header_bytes``; VerifyError otherwise."""
    h = decode(header_bytes)
    if not (isinstance(h, list) and len(h) == 11 and h[0] == 3):
        raise VerifyError("not a header")
    header = dict(zip(["chain_id", "height", "prev_hash", "tx_root", "state_root",
                       "receipts_root", "proposer", "view", "timestamp_ms",
                       "validator_set_hash"], h[1:], strict=True))
    block_hash = sha256(DOMAIN_HEADER + header_bytes)
    if header["validator_set_hash"] != valset_hash(validators):
        raise VerifyError("the header is certified by another validator set")
    c = decode(cert_bytes)
    if not (isinstance(c, list) and len(c) == 6 and c[0] == 8):
        raise VerifyError("not a certificate")
    _tag, chain_id, height, view, cert_block_hash, sigs = c
    if (chain_id, height, cert_block_hash) != (header["chain_id"], header["height"], block_hash):
        raise VerifyError("the certificate is for another block")
    keys = [s[0] for s in sigs]
    if keys != sorted(set(keys)):
        raise VerifyError("certificate signers not sorted and unique")
    members = {pk for pk, _ in validators}
    message = vote_signing_bytes(2, chain_id, height, view, block_hash)
    for pk, sig in sigs:
        if pk not in members or not verify_signature(pk, message, sig):
            raise VerifyError("a certificate signature does not verify")
    quorum = 2 * len(validators) // 3 + 1
    if len(sigs) < quorum:
        raise VerifyError(f"{len(sigs)} signatures, quorum is {quorum}")
    header["hash"] = block_hash
    return header


# --- section 8: state proofs ---------------------------------------------------------------

STATE_EMPTY_ROOT = sha256(b"hkchain/state/empty")


def _nibble(h: bytes, depth: int) -> int:
    return h[depth // 2] & 15 if depth % 2 else h[depth // 2] >> 4


def verify_state_proof(root: bytes, key: bytes, value: bytes | None, proof: list[Any]) -> bool:
    kind, levels, other_key_hash, other_value_hash = proof
    if len(levels) > 64:
        return False
    kh = sha256(key)
    if kind == 0:
        if value is None:
            return False
        h: bytes | None = sha256(b"\x10" + kh + sha256(value))
    elif kind == 1:
        if value is not None:
            return False
        h = None
    elif kind == 2:
        if value is not None or len(other_key_hash) != 32 or len(other_value_hash) != 32:
            return False
        if other_key_hash == kh or any(_nibble(other_key_hash, d) != _nibble(kh, d)
                                       for d in range(len(levels))):
            return False
        h = sha256(b"\x10" + other_key_hash + other_value_hash)
    else:
        return False
    for depth in range(len(levels) - 1, -1, -1):
        bitmap, hashes = levels[depth]
        n = _nibble(kh, depth)
        if not 0 <= bitmap < 1 << 16 or bitmap >> n & 1 or bin(bitmap).count("1") != len(hashes):
            return False
        if bitmap == 0 and h is None:
            return False
        slots = [bytes(32)] * 16
        it = iter(hashes)
        for i in range(16):
            if bitmap >> i & 1:
                slots[i] = next(it)
        slots[n] = bytes(32) if h is None else h
        h = sha256(b"\x11" + b"".join(slots))
    return root == (STATE_EMPTY_ROOT if h is None else h)


def balance_key(address: str) -> bytes:
    return b"c/token/s/b:" + address.encode()


# --- section 9: Merkle trees ---------------------------------------------------------------


def merkle_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return sha256(b"\x00" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha256(b"\x01" + merkle_root(leaves[:k]) + merkle_root(leaves[k:]))


def verify_merkle_proof(root: bytes, leaf: bytes, index: int, size: int, path: list[bytes]) -> bool:
    if not 0 <= index < size:
        return False
    h = sha256(b"\x00" + leaf)
    i, width, rest = index, size, list(path)
    while width > 1:
        if i ^ 1 < width:
            if not rest:
                return False
            sib = rest.pop(0)
            h = sha256(b"\x01" + sib + h) if i & 1 else sha256(b"\x01" + h + sib)
        i //= 2
        width = (width + 1) // 2
    return not rest and h == root


# --- the vectors --------------------------------------------------------------------------


def _expect(cond: bool, what: str) -> None:
    if not cond:
        raise VerifyError(what)


def check_vectors(folder: Path) -> int:
    """Check every vector in ``folder``; returns how many checks passed."""
    n = 0

    def load(name: str) -> Any:
        return json.loads((folder / f"{name}.json").read_text())

    codec = load("codec")
    for vec in codec["valid"]:
        data = bytes.fromhex(vec["hex"])
        _expect(encode(from_typed(vec["value"])) == data, f"codec encode: {vec['name']}")
        _expect(decode(data) == from_typed(vec["value"]), f"codec decode: {vec['name']}")
        n += 2
    for vec in codec["invalid"]:
        try:
            decode(bytes.fromhex(vec["hex"]))
        except VerifyError:
            n += 1
            continue
        raise VerifyError(f"codec accepted invalid input: {vec['name']}")

    keys = load("keys")
    for k in keys["keys"]:
        key = Key(bytes.fromhex(k["seed"]))
        _expect(key.public_key.hex() == k["public_key"], f"public key of {k['name']}")
        _expect(key.address == k["address"], f"address of {k['name']}")
        _expect(parse_address(k["address"]).hex() == k["address_payload"], f"payload of {k['name']}")
        n += 3
    for bad in keys["invalid_addresses"]:
        try:
            parse_address(bad["address"])
        except VerifyError:
            n += 1
            continue
        raise VerifyError(f"accepted a bad address: {bad['name']}")
    plain = load_key_file(keys["key_file_plain"])
    enc = keys["key_file_encrypted"]
    _expect(load_key_file(enc["file"], enc["passphrase"]).seed.hex() == enc["seed"] == plain.seed.hex(),
            "encrypted key file")
    try:
        load_key_file(enc["file"], enc["passphrase"] + "!")
        raise AssertionError("a wrong passphrase opened the key file")
    except VerifyError:
        n += 2

    for t in load("tx")["txs"]:
        f = t["fields"]
        tx = tx_value(f["chain_id"], bytes.fromhex(f["sender"]), f["nonce"], f["contract"],
                      f["method"], [from_typed(a) for a in f["args"]], f["max_fee"], f["expiry_height"])
        _expect(encode(tx).hex() == t["tx_encoded"], f"tx bytes: {t['name']}")
        tx_hash, signed = sign_tx(Key(bytes.fromhex(t["seed"])), tx)
        _expect(tx_hash.hex() == t["tx_hash"] == t["signed_message"], f"tx hash: {t['name']}")
        _expect(signed.hex() == t["signed_tx_encoded"], f"signed tx: {t['name']}")
        _expect(verify_signature(bytes.fromhex(f["sender"]), tx_hash, bytes.fromhex(t["signature"])),
                f"tx signature: {t['name']}")
        n += 4

    chain = load("chain")
    vs = [(bytes.fromhex(v["public_key"]), v["name"]) for v in chain["validator_set"]["validators"]]
    _expect(encode([10, [[9, pk, nm] for pk, nm in vs]]).hex() == chain["validator_set"]["encoded"], "valset")
    _expect(valset_hash(vs).hex() == chain["validator_set"]["hash"], "valset hash")
    hf = chain["header"]["fields"]
    header_value = [3, hf["chain_id"], hf["height"], *(bytes.fromhex(hf[k]) for k in
                    ("prev_hash", "tx_root", "state_root", "receipts_root", "proposer")),
                    hf["view"], hf["timestamp_ms"], bytes.fromhex(hf["validator_set_hash"])]
    header_bytes = encode(header_value)
    _expect(header_bytes.hex() == chain["header"]["encoded"], "header bytes")
    _expect(sha256(DOMAIN_HEADER + header_bytes).hex() == chain["header"]["hash"], "header hash")
    r = chain["receipt"]
    receipt = [6, bytes.fromhex(r["tx_hash"]), r["status"], r["gas_used"], r["fee"],
               from_typed(r["result"]),
               [[5, e["contract"], e["name"], from_typed(e["fields"])] for e in r["events"]],
               r["error_code"], r["error_contract"], r["error_line"]]
    _expect(encode(receipt).hex() == r["encoded"], "receipt bytes")
    _expect(merkle_root([encode(receipt)]).hex() == hf["receipts_root"], "receipts root")
    signed_tx = load("tx")["txs"][0]
    _expect(merkle_root([bytes.fromhex(signed_tx["tx_hash"])]).hex() == hf["tx_root"], "tx root")
    block = encode([4, header_value, [decode(bytes.fromhex(signed_tx["signed_tx_encoded"]))]])
    _expect(block.hex() == chain["block_encoded"], "block bytes")
    for v in chain["votes"]:
        msg = vote_signing_bytes(v["kind"], v["chain_id"], v["height"], v["view"], bytes.fromhex(v["block_hash"]))
        _expect(msg.hex() == v["signing_bytes"], "vote signing bytes")
        _expect(verify_signature(bytes.fromhex(v["validator"]), msg, bytes.fromhex(v["signature"])), "vote sig")
        vote = [7, v["kind"], v["chain_id"], v["height"], v["view"], bytes.fromhex(v["block_hash"]),
                bytes.fromhex(v["validator"]), bytes.fromhex(v["signature"])]
        _expect(encode(vote).hex() == v["encoded"], "vote bytes")
        n += 3
    cert = bytes.fromhex(chain["certificate"]["encoded"])
    certified = check_certificate(cert, header_bytes, vs)
    _expect(certified["hash"].hex() == chain["header"]["hash"], "certified header")
    try:
        check_certificate(cert, header_bytes, [*vs[:1], (bytes(32), "x"), *vs[2:]])
        raise AssertionError("a certificate verified against another validator set")
    except VerifyError:
        n += 9

    state = load("state")
    _expect(STATE_EMPTY_ROOT.hex() == state["empty_root"], "empty state root")
    _expect(state["root"] == hf["state_root"], "the header commits to the vector state")
    root = bytes.fromhex(state["root"])
    for name in ("inclusion", "absence_empty_slot", "absence_other_leaf"):
        p = state[name]
        proof = decode(bytes.fromhex(p["proof_encoded"]))
        _expect(proof == [p["kind"], [[b, [bytes.fromhex(x) for x in hs]] for b, hs in p["levels"]],
                          bytes.fromhex(p["other_key_hash"]), bytes.fromhex(p["other_value_hash"])],
                f"proof fields: {name}")
        value = None if p["value"] is None else bytes.fromhex(p["value"])
        _expect(verify_state_proof(root, bytes.fromhex(p["key"]), value, proof), f"state proof: {name}")
        _expect(not verify_state_proof(root, bytes.fromhex(p["key"]), b"\x00" if value is None else None, proof),
                f"state proof of the wrong value: {name}")
        n += 3
    bad = state["must_not_verify"]
    _expect(not verify_state_proof(root, bytes.fromhex(bad["key"]), bytes.fromhex(bad["value"]),
                                   decode(bytes.fromhex(state[bad["proof"]]["proof_encoded"]))), "forged value")
    n += 1
    for item in state["items"]:
        _expect(item["key"] == item["key_text"].encode().hex(), "state key text")
        _expect(decode(bytes.fromhex(item["value"])) == from_typed(item["value_decoded"]), "state value")
        n += 2

    merkle = load("merkle")
    _expect(merkle_root([]).hex() == merkle["empty_root"], "empty Merkle root")
    for r in merkle["roots"]:
        _expect(merkle_root([bytes.fromhex(x) for x in r["leaves"]]).hex() == r["root"], "Merkle root")
        n += 1
    for p in merkle["proofs"]:
        path = [bytes.fromhex(x) for x in p["path"]]
        ok = verify_merkle_proof(bytes.fromhex(p["root"]), bytes.fromhex(p["leaf"]), p["index"], p["size"], path)
        _expect(ok, "Merkle proof")
        n += 1
    return n


# --- the RPC -------------------------------------------------------------------------------


def _http(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _get(rpc: str, path: str) -> Any:
    status, doc = _http(rpc + path)
    if status != 200:
        raise VerifyError(f"GET {path}: {status} {doc}")
    return doc


def proven_value(rpc: str, key: bytes, validators: list[tuple[bytes, str]]) -> tuple[bytes | None, int]:
    """The value at ``key`` and its height, proven against a certified header."""
    p = _get(rpc, f"/v1/proofs/{key.hex()}")
    height = p["height"]
    block = _get(rpc, f"/v1/blocks/{height}")
    if block["certificate"] is None:
        raise VerifyError("the block has no certificate")
    header = check_certificate(bytes.fromhex(block["certificate"]["encoded"]),
                               bytes.fromhex(block["header"]["encoded"]), validators)
    if header["height"] != height:
        raise VerifyError("the proof is for another height than the block")
    value = None if p["value"] is None else bytes.fromhex(p["value"])
    if not verify_state_proof(header["state_root"], key, value,
                              decode(bytes.fromhex(p["proof_encoded"]))):
        raise VerifyError("the state proof does not verify against the certified header")
    return value, height


def transfer(rpc: str, key: Key, validators: list[tuple[bytes, str]], to: str, amount: int,
             max_fee: int, timeout_s: float) -> None:
    parse_address(to)
    status = _get(rpc, "/v1/status")
    account = _get(rpc, f"/v1/accounts/{key.address}")
    tx = tx_value(status["chain_id"], key.public_key, account["pending_nonce"], "token",
                  "transfer", [to, amount], max_fee, status["height"] + 100)
    tx_hash, signed = sign_tx(key, tx)
    code, answer = _http(rpc + "/v1/txs", {"tx": signed.hex()})
    if code != 202 or answer.get("hash") != tx_hash.hex():
        raise VerifyError(f"the node refused the tx: {code} {answer}")
    print(f"submitted {tx_hash.hex()}")
    deadline = time.monotonic() + timeout_s
    while True:
        code, doc = _http(rpc + f"/v1/txs/{tx_hash.hex()}")
        if code == 200 and doc.get("status") == "committed":
            break
        if code == 200 and doc.get("status") in ("rejected", "expired"):
            raise VerifyError(f"the tx was {doc['status']}: {doc.get('error')}")
        if time.monotonic() > deadline:
            raise VerifyError("the tx did not commit in time")
        time.sleep(0.2)
    receipt = doc["receipt"]
    if receipt["status"] != 0:
        raise VerifyError(f"the transfer failed: {receipt['error_code']}")
    print(f"committed at height {doc['height']}, fee {receipt['fee']}")
    for who, address in (("recipient", to), ("sender", key.address)):
        value, height = proven_value(rpc, balance_key(address), validators)
        balance = 0 if value is None else decode(value)
        if not isinstance(balance, int):
            raise VerifyError("a balance is not an integer")
        if height < doc["height"]:
            raise VerifyError("the proof is older than the transfer")
        print(f"{who} {address} balance {balance} at height {height}: verified")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("vectors", help="check docs/vectors")
    v.add_argument("folder", type=Path)
    t = sub.add_parser("transfer", help="send points and verify the new balances")
    t.add_argument("--rpc", required=True)
    t.add_argument("--key", type=Path, required=True)
    t.add_argument("--passphrase", default=None)
    t.add_argument("--genesis", type=Path, required=True, help="whose validators to trust")
    t.add_argument("--to", required=True)
    t.add_argument("--amount", type=int, required=True)
    t.add_argument("--max-fee", type=int, default=100)
    t.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    try:
        if args.command == "vectors":
            print(f"{check_vectors(args.folder)} vector checks passed")
            return 0
        key = load_key_file(json.loads(args.key.read_text()), args.passphrase)
        genesis = json.loads(args.genesis.read_text())
        validators = [(bytes.fromhex(v["public_key"]), v.get("name", "")) for v in genesis["validators"]]
        transfer(args.rpc.rstrip("/"), key, validators, args.to, args.amount, args.max_fee, args.timeout)
        return 0
    except VerifyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
