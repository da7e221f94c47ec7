"""JSON forms of chain records for the RPC, subscriptions and clients that verify them.

Values (tx arguments, results, event fields) map to JSON one way both directions:
bytes <-> ``"0x…"`` hex strings, ints, strs, bools, null, lists and objects as themselves.
Hashes and keys in record fields are plain lowercase hex. The mapping cannot tell a str
that starts with "0x" from bytes, so records also carry their canonical bytes as
``encoded`` hex for clients that verify hashes.
"""

from __future__ import annotations

from typing import Any

from core.codec import Value
from core.errors import ValidationError
from core.types import Block, BlockHeader, CommitCertificate, Receipt, SignedTx, ValidatorSet

MAX_JSON_VALUE_DEPTH = 16


def value_to_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [value_to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): value_to_json(v) for k, v in value.items()}
    return value


def value_from_json(obj: Any, depth: int = 0) -> Value:
    """A Value from JSON; ValidationError (code ``malformed``) for floats and the like."""
    if depth > MAX_JSON_VALUE_DEPTH:
        raise ValidationError("value nested too deeply", code="malformed")
    if obj is None or type(obj) in (bool, int):
        out: Value = obj
        return out
    if isinstance(obj, str):
        if obj.startswith("0x"):
            try:
                return bytes.fromhex(obj[2:])
            except ValueError:
                raise ValidationError(f"{obj[:40]!r} is not valid hex", code="malformed") from None
        return obj
    if isinstance(obj, list):
        return [value_from_json(v, depth + 1) for v in obj]
    if isinstance(obj, dict):
        return {str(k): value_from_json(v, depth + 1) for k, v in obj.items()}
    raise ValidationError(f"unsupported JSON value of type {type(obj).__name__}", code="malformed")


def tx_json(stx: SignedTx) -> dict[str, Any]:
    t = stx.tx
    return {
        "hash": stx.hash.hex(),
        "chain_id": t.chain_id,
        "sender": t.sender.hex(),
        "sender_address": t.sender_address,
        "nonce": t.nonce,
        "contract": t.contract,
        "method": t.method,
        "args": value_to_json(list(t.args)),
        "max_fee": t.max_fee,
        "expiry_height": t.expiry_height,
        "signature": stx.signature.hex(),
        # The canonical bytes: JSON maps a str that starts with "0x" and bytes alike, so a
        # client that checks hashes rebuilds the tx from these, never from the fields.
        "encoded": stx.encode().hex(),
    }


def header_json(h: BlockHeader) -> dict[str, Any]:
    return {
        "chain_id": h.chain_id,
        "height": h.height,
        "prev_hash": h.prev_hash.hex(),
        "tx_root": h.tx_root.hex(),
        "state_root": h.state_root.hex(),
        "receipts_root": h.receipts_root.hex(),
        "proposer": h.proposer.hex(),
        "view": h.view,
        "timestamp_ms": h.timestamp_ms,
        "validator_set_hash": h.validator_set_hash.hex(),
        # The header's canonical bytes: its hash is SHA-256 of the header domain tag and
        # these, so a client verifies the block hash without rebuilding the encoding.
        "encoded": h.encoded.hex(),
    }


def certificate_json(c: CommitCertificate | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "chain_id": c.chain_id,
        "height": c.height,
        "view": c.view,
        "block_hash": c.block_hash.hex(),
        "signatures": [{"validator": k.hex(), "signature": s.hex()} for k, s in c.signatures],
        "encoded": c.encoded.hex(),
    }


def block_json(block: Block, cert: CommitCertificate | None) -> dict[str, Any]:
    return {
        "height": block.height,
        "hash": block.hash.hex(),
        "header": header_json(block.header),
        "txs": [tx_json(t) for t in block.txs],
        "certificate": certificate_json(cert),
    }


STATUS_NAMES = {0: "ok", 1: "failed", 2: "invalid"}


def receipt_json(r: Receipt, error_message: str = "") -> dict[str, Any]:
    """A receipt for clients. ``error_message`` is made by the node from the receipt's
    code, contract and line (vm Executor.explain_error): it is not part of the receipt,
    which tells a failure by code and place only."""
    return {
        "tx_hash": r.tx_hash.hex(),
        "status": r.status,
        "status_name": STATUS_NAMES.get(r.status, str(r.status)),
        "gas_used": r.gas_used,
        "fee": r.fee,
        "result": value_to_json(r.result),
        "events": [
            {"contract": e.contract, "name": e.name, "fields": value_to_json(e.fields)}
            for e in r.events
        ],
        "error_code": r.error_code,
        "error_contract": r.error_contract,
        "error_line": r.error_line,
        "error_message": error_message,
        # The canonical bytes, for clients that check the receipts against receipts_root.
        "encoded": r.encode().hex(),
    }


def validators_json(vs: ValidatorSet | None) -> list[dict[str, Any]]:
    if vs is None:
        return []
    return [
        {"public_key": v.public_key.hex(), "address": v.address, "name": v.name}
        for v in vs.validators
    ]
