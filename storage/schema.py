"""Every key layout of the store, in one place.

Each family of keys has a versioned prefix (``b1/``: blocks, layout 1), so a layout can
change by adding a new prefix and migrating. Heights are 8-byte big-endian, so key order
is height order. No prefix is a prefix of another. The layout version of the whole store
is kept under ``m1/schema`` and checked on open (``check_schema``).
"""

from __future__ import annotations

import struct

from storage.api import KeyValueStore
from storage.errors import SchemaVersionError

SCHEMA_VERSION = b"hkchain-store/4"
# Layouts this build opens. Layouts 2 and 3 differ from 4 only in how blocks and receipts
# are packed (storage/packing.py: 3 kept each receipt's tx hash, 2 did not pack at all),
# and every packing is read, so opening one restamps it as layout 4: from its next block
# on, an older build could not read it and refuses.
READABLE_VERSIONS = (b"hkchain-store/2", b"hkchain-store/3")

BLOCK = b"b1/"  # height(8) -> packing.pack_block(Block.encode()) (layout 2: the bare encoding)
BLOCK_HASH = b"h1/"  # block hash(32) -> height(8)
CERTIFICATE = b"c1/"  # height(8) -> CommitCertificate.encode()
RECEIPT = b"r1/"  # height(8) index(4) -> Receipt.encode(): layout 2, read only
RECEIPTS = b"r2/"  # height(8) -> packing.pack_receipts of the block's receipts, in tx order
TX_INDEX = b"t1/"  # tx hash(32) -> height(8) index(4)
# height(8) -> ValidatorSet.encode() of the set certifying it, or, when it is an earlier
# height's set, packing.MARK_SAME + that height(8) (layout 2: always the encoding)
VALIDATORS = b"v1/"
# version(8) nibble count(1) nibbles(1 each) -> tree node. "z" sorts after every other
# prefix, so each block's new nodes are the largest keys of the store.
STATE_NODE = b"z2/"
STATE_ROOT = b"sr1/"  # height(8) -> root ref of the state tree at that height
STATE_STALE = b"sx1/"  # height(8) -> node keys that block replaced (u16 length + key)*
STATE_VALUE = b"a1/"  # state key -> value at the head (flat table for fast reads)
# sha256(state key)(32) -> state key: the tree's leaves hold key hashes only; state sync
# serves keys, so each key ever written is kept here (a preimage never changes).
STATE_PREIMAGE = b"k1/"
# height(8) state key -> [value, StateProof] of that key under the state root of the
# block at height, kept at commit (node: the validator schedule of each block that
# changed it, served to nodes joining by state sync).
KEPT_PROOF = b"kp1/"
# height(8) -> p2p ValsetChange record checked by a node that joined by state sync (the
# changes before its snapshot, whose blocks it does not have), served on to others.
VALSET_CHANGE = b"vc1/"
WAL = b"w2/"  # record name -> bytes (a consensus vote record, hashes only)
WAL_BLOCK = b"wb2/"  # name length(1) name block hash(32) -> Block.encode()
# account history: account (utf-8) 0x00 height(8) index(4) -> b"": the committed txs that
# touched an account, in height order (node/statement.py decides which accounts a tx touches).
ACCOUNT_TX = b"x1/"
# height(8) view(4) kind(1) validator(32) -> an equivocation evidence record (node/evidence.py)
EVIDENCE = b"e1/"
META_HEAD = b"m1/head"  # height(8) of the last committed block
META_SCHEMA = b"m1/schema"  # SCHEMA_VERSION
META_PRUNED = b"m1/pruned"  # height(8): state nodes replaced up to here are deleted
META_ACCOUNTS_FROM = b"m1/accounts_from"  # height(8): the account history starts here
META_PREIMAGES = b"m1/preimages"  # present once STATE_PREIMAGE holds every key of the state
# height(8): the store began from a state-sync snapshot of this height; blocks, receipts
# and txs before it were never fetched.
META_SNAPSHOT = b"m1/snapshot"

ALL_PREFIXES = (
    BLOCK,
    BLOCK_HASH,
    CERTIFICATE,
    RECEIPT,
    RECEIPTS,
    TX_INDEX,
    VALIDATORS,
    STATE_NODE,
    STATE_ROOT,
    STATE_STALE,
    STATE_VALUE,
    STATE_PREIMAGE,
    KEPT_PROOF,
    VALSET_CHANGE,
    WAL,
    WAL_BLOCK,
    ACCOUNT_TX,
    EVIDENCE,
    b"m1/",
)

_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
_U64_U32 = struct.Struct(">QI")
MAX_HEIGHT = (1 << 64) - 1
_LENGTH_BYTES = tuple(bytes((i,)) for i in range(256))


def be64(n: int) -> bytes:
    return _U64.pack(n)


def from_be64(data: bytes) -> int:
    value: int = _U64.unpack(data)[0]
    return value


def block_key(height: int) -> bytes:
    return BLOCK + _U64.pack(height)


def block_hash_key(block_hash: bytes) -> bytes:
    return BLOCK_HASH + block_hash


def certificate_key(height: int) -> bytes:
    return CERTIFICATE + _U64.pack(height)


def receipts_prefix(height: int) -> bytes:
    return RECEIPT + _U64.pack(height)


def receipts_key(height: int) -> bytes:
    return RECEIPTS + _U64.pack(height)


def receipt_key(height: int, index: int) -> bytes:
    return RECEIPT + _U64_U32.pack(height, index)


def tx_index_key(tx_hash: bytes) -> bytes:
    return TX_INDEX + tx_hash


MAX_ACCOUNT_BYTES = 128


def account_prefix(account: str) -> bytes:
    """The keys of one account's history; the 0x00 ends the name, so no account's
    prefix is a prefix of another's."""
    raw = account.encode()
    if not 0 < len(raw) <= MAX_ACCOUNT_BYTES or b"\x00" in raw:
        raise ValueError("an account name is 1..128 bytes of UTF-8 without NUL")
    return ACCOUNT_TX + raw + b"\x00"


def account_tx_key(account: str, height: int, index: int) -> bytes:
    return account_prefix(account) + _U64_U32.pack(height, index)


def encode_tx_location(height: int, index: int) -> bytes:
    return _U64_U32.pack(height, index)


def decode_tx_location(data: bytes) -> tuple[int, int]:
    height, index = _U64_U32.unpack(data)
    return int(height), int(index)


def validators_key(height: int) -> bytes:
    return VALIDATORS + _U64.pack(height)


def state_node_path(nibbles: bytes) -> bytes:
    """The path part of a node key: ``nibbles`` is the node's path from the root, one
    nibble (0..15) per byte."""
    return _LENGTH_BYTES[len(nibbles)] + nibbles


def state_node_key(nibbles: bytes, version: int) -> bytes:
    # Version first, under the last prefix: a block's new nodes form one key range above
    # every other key, so LevelDB moves them down its levels mostly without rewriting
    # them (keyed path first, every block's nodes were spread over the whole range and
    # compaction rewrote each about ten times per level).
    return STATE_NODE + _U64.pack(version) + _LENGTH_BYTES[len(nibbles)] + nibbles


def state_root_key(height: int) -> bytes:
    return STATE_ROOT + _U64.pack(height)


def state_stale_key(height: int) -> bytes:
    return STATE_STALE + _U64.pack(height)


def state_value_key(key: bytes) -> bytes:
    return STATE_VALUE + key


def state_preimage_key(key_hash: bytes) -> bytes:
    return STATE_PREIMAGE + key_hash


def kept_proof_key(height: int, key: bytes) -> bytes:
    return KEPT_PROOF + _U64.pack(height) + key


def valset_change_key(height: int) -> bytes:
    return VALSET_CHANGE + _U64.pack(height)


def wal_key(name: bytes) -> bytes:
    return WAL + name


def evidence_key(height: int, view: int, kind: int, validator: bytes) -> bytes:
    return EVIDENCE + _U64.pack(height) + _U32.pack(view) + bytes((kind,)) + validator


def wal_block_prefix(name: bytes) -> bytes:
    return WAL_BLOCK + _LENGTH_BYTES[len(name)] + name


def wal_block_key(name: bytes, block_hash: bytes) -> bytes:
    return wal_block_prefix(name) + block_hash


def check_schema(kv: KeyValueStore) -> None:
    """Accept a store of this layout, restamp one of a readable older layout, stamp an
    empty one, refuse anything else."""
    found = kv.get(META_SCHEMA)
    if found == SCHEMA_VERSION:
        return
    if found in READABLE_VERSIONS:
        kv.put(META_SCHEMA, SCHEMA_VERSION, sync=True)
        return
    if found is not None:
        raise SchemaVersionError(
            f"store has layout {found!r}; this build reads {SCHEMA_VERSION!r} only"
        )
    for _ in kv.iterate():
        raise SchemaVersionError("store holds data but no schema version: not an hkchain store")
    kv.put(META_SCHEMA, SCHEMA_VERSION, sync=True)


# What each family of records is, for figures of the bytes a store holds (the bench's
# "disk by record"). Every prefix of ALL_PREFIXES has a name.
FAMILY_NAMES: dict[bytes, str] = {
    BLOCK: "blocks",
    BLOCK_HASH: "block hash index",
    CERTIFICATE: "certificates",
    RECEIPT: "receipts (layout 2)",
    RECEIPTS: "receipts",
    TX_INDEX: "tx index",
    VALIDATORS: "validator sets",
    STATE_NODE: "state tree nodes",
    STATE_ROOT: "state roots",
    STATE_STALE: "state tree prune lists",
    STATE_VALUE: "state values",
    STATE_PREIMAGE: "state key preimages",
    KEPT_PROOF: "kept proofs",
    VALSET_CHANGE: "validator set changes",
    WAL: "consensus WAL record",
    WAL_BLOCK: "consensus WAL blocks",
    ACCOUNT_TX: "account history",
    EVIDENCE: "evidence",
    b"m1/": "meta",
}


def bytes_by_family(kv: KeyValueStore) -> dict[str, int]:
    """The live bytes (key + value) of each family of records in ``kv``; keys of no
    family count as "unknown". Reads the whole store."""
    out: dict[str, int] = {}
    for prefix, name in FAMILY_NAMES.items():
        total = sum(len(k) + len(v) for k, v in kv.iterate(prefix))
        if total:
            out[name] = total
    known = sum(out.values())
    everything = sum(len(k) + len(v) for k, v in kv.iterate())
    if everything > known:
        out["unknown"] = everything - known
    return out
