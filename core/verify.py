"""Finality checked by a client: a block as the node's RPC renders it, verified against a
validator set the client trusts, without trusting the node that served it.

``hkchain block --verify`` and the analytics indexer both use it: the header and txs are
rebuilt from their canonical bytes and hashed, the certificate's quorum of COMMIT
signatures is checked, and (for the indexer) the receipts must hash to the header's
receipts_root.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import ChainError, ValidationError
from core.render import tx_json
from core.types import (
    BlockHeader,
    CommitCertificate,
    Receipt,
    SignedTx,
    Validator,
    ValidatorSet,
    receipts_root,
    tx_root,
)


@dataclass(frozen=True)
class VerifiedBlock:
    """A block whose header, txs and commit certificate the client checked itself."""

    height: int
    block_hash: str
    state_root: str
    signers: int
    quorum: int


def validator_set_from_json(items: Any) -> ValidatorSet:
    """The validator set as /v1/status lists it (public keys in order)."""
    if not isinstance(items, list) or not items:
        raise ValidationError("the node listed no validators")
    try:
        return ValidatorSet(tuple(Validator(bytes.fromhex(v["public_key"]), str(v.get("name", "")))
                                  for v in items))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError(f"malformed validator list: {exc}") from exc


def verify_block(block: Mapping[str, Any], validators: ValidatorSet) -> VerifiedBlock:
    """Check a block as the node rendered it, trusting nothing the node says about it.

    The header is rebuilt from its fields and hashed; each tx is rebuilt and hashed, and
    their Merkle root must be the header's tx_root; the certificate must carry a quorum
    of valid COMMIT signatures of ``validators`` (whose hash must be the header's
    validator_set_hash) on exactly that header hash. Raises ValidationError.
    """
    try:
        h = block["header"]
        header = BlockHeader(
            chain_id=h["chain_id"], height=h["height"], prev_hash=bytes.fromhex(h["prev_hash"]),
            tx_root=bytes.fromhex(h["tx_root"]), state_root=bytes.fromhex(h["state_root"]),
            receipts_root=bytes.fromhex(h["receipts_root"]), proposer=bytes.fromhex(h["proposer"]),
            view=h["view"], timestamp_ms=h["timestamp_ms"],
            validator_set_hash=bytes.fromhex(h["validator_set_hash"]),
        )
        header = BlockHeader.decode(header.encode())  # the strict field checks
        # From the canonical bytes: the JSON fields cannot tell "0x…" strings from bytes.
        txs = [SignedTx.decode(bytes.fromhex(t["encoded"])) for t in block["txs"]]
        cert_doc = block.get("certificate")
        cert = CommitCertificate.decode(bytes.fromhex(cert_doc["encoded"])) if cert_doc else None
    except (KeyError, TypeError, ValueError, ChainError) as exc:
        raise ValidationError(f"malformed block: {exc}") from exc
    if header.hash.hex() != block.get("hash"):
        raise ValidationError("the header does not hash to the block hash the node gave")
    if block["header"].get("encoded", header.encoded.hex()) != header.encoded.hex():
        raise ValidationError("the header's bytes differ from its fields")
    for t, doc in zip(txs, block["txs"], strict=True):
        if t.hash.hex() != doc.get("hash"):
            raise ValidationError(f"tx {doc.get('hash')} does not hash to its hash")
        if any(doc.get(k) != v for k, v in tx_json(t).items()):
            raise ValidationError(f"tx {doc.get('hash')}: the fields shown differ from its bytes")
    if tx_root(txs) != header.tx_root:
        raise ValidationError("the txs do not match the header's tx_root")
    if header.height == 0:
        raise ValidationError("block 0 (genesis) has no certificate; compare its hash with genesis_hash")
    if cert is None:
        raise ValidationError("the node sent no commit certificate")
    if validators.hash != header.validator_set_hash:
        raise ValidationError("the validator set given is not the one that certifies this block")
    if (cert.height, cert.block_hash) != (header.height, header.hash):
        raise ValidationError("the certificate is for another block")
    cert.verify(header.chain_id, validators)
    return VerifiedBlock(header.height, header.hash.hex(), header.state_root.hex(),
                         len(cert.signatures), validators.quorum)


def verify_receipts(block: Mapping[str, Any], receipts: Sequence[Mapping[str, Any]]) -> list[Receipt]:
    """The receipts of a block verified with ``verify_block``, rebuilt from their canonical
    bytes (``encoded``): one per tx, in order, with the tx's hash, and together hashing to
    the header's receipts_root (which the certificate covers). Raises ValidationError."""
    try:
        header_root = bytes.fromhex(block["header"]["receipts_root"])
        tx_hashes = [t["hash"] for t in block["txs"]]
        out = [Receipt.decode(bytes.fromhex(r["encoded"])) for r in receipts]
    except (KeyError, TypeError, ValueError, ChainError) as exc:
        raise ValidationError(f"malformed receipts: {exc}") from exc
    if [r.tx_hash.hex() for r in out] != tx_hashes:
        raise ValidationError("the receipts are not those of the block's txs, in order")
    if receipts_root(out) != header_root:
        raise ValidationError("the receipts do not match the header's receipts_root")
    return out
