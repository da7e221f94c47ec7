"""Equivocation evidence: what the node does with the proof that a validator signed two
different blocks for one (height, view).

The replica keeps each such pair (consensus/replica.py ``Equivocation``); the node turns
it into an ``EvidenceRecord`` that holds only what proves the fault (for each of the two
messages, the block hash, the exact bytes the validator signed, and its signature, so
anyone with the validator's public key can check it without trusting this node), logs it
at WARNING, counts it in ``hkchain_equivocations_total{validator,kind}``, and keeps it in
the store (``schema.EVIDENCE``) so it survives a restart. ``GET /v1/evidence`` lists it,
newest first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from consensus.messages import NewView, PrePrepare
from consensus.replica import Equivocation
from core import codec
from core.crypto import address_of
from core.errors import DecodeError
from core.schema import HASH, PUBLIC_KEY, SIGNATURE, U64, B, Rec, S, Wired, record, wire
from core.types import VOTE_COMMIT, VOTE_PREPARE, ValidatorSet, Vote
from storage import schema
from storage.api import KeyValueStore

log = logging.getLogger("hkchain.node.evidence")

# Kept in the store at most; beyond it the oldest records go. A validator set of 256 that
# equivocates at every view of every height would fill it, and nothing less.
MAX_EVIDENCE_KEPT = 10_000
MAX_EVIDENCE_PAGE = 1_000
DEFAULT_EVIDENCE_PAGE = 100
# What a record may take in the store: the signed bytes of a NEW-VIEW are the largest
# (a digest per VIEW-CHANGE of up to 256).
MAX_SIGNED_BYTES = 16 * 1024
MAX_RECORD_BYTES = 2 * MAX_SIGNED_BYTES + 4096

KINDS = {"pre-prepare": 0, "prepare": VOTE_PREPARE, "commit": VOTE_COMMIT, "new-view": 3}
_KIND_NAMES = {v: k for k, v in KINDS.items()}


@record(None)
@dataclass(frozen=True)
class SignedPart(Wired):
    """One of the two conflicting messages, reduced to what proves it was signed."""

    block_hash: bytes = wire(HASH)
    signed_bytes: bytes = wire(B(max_size=MAX_SIGNED_BYTES))
    signature: bytes = wire(SIGNATURE)

    @classmethod
    def of(cls, msg: Vote | PrePrepare | NewView) -> SignedPart:
        if isinstance(msg, Vote):
            return cls(msg.block_hash, msg.signing_bytes(), msg.signature)
        return cls(msg.block.hash, msg.signing_bytes(), msg.signature)

    def to_json(self) -> dict[str, str]:
        return {"block_hash": self.block_hash.hex(), "signed_bytes": self.signed_bytes.hex(),
                "signature": self.signature.hex()}


@record(None)
@dataclass(frozen=True)
class EvidenceRecord(Wired):
    height: int = wire(U64)
    view: int = wire(U64)
    kind: str = wire(S(16))  # pre-prepare, prepare, commit, new-view
    validator: bytes = wire(PUBLIC_KEY)
    # this node's clock when it saw the second message (not consensus data)
    seen_at_ms: int = wire(U64)
    first: SignedPart = wire(Rec(SignedPart))
    second: SignedPart = wire(Rec(SignedPart))

    def _decoded(self, value: Any) -> None:
        if self.kind not in KINDS:
            raise DecodeError(f"unknown evidence kind {self.kind!r}")

    @classmethod
    def of(cls, e: Equivocation, seen_at_ms: int) -> EvidenceRecord:
        first = e.first
        if isinstance(first, Vote):
            kind = "prepare" if first.kind == VOTE_PREPARE else "commit"
        else:
            kind = "pre-prepare" if isinstance(first, PrePrepare) else "new-view"
        return cls(first.height, first.view, kind, e.validator, seen_at_ms,
                   SignedPart.of(e.first), SignedPart.of(e.second))

    @property
    def key(self) -> bytes:
        return schema.evidence_key(self.height, self.view, KINDS[self.kind], self.validator)

    def encode(self) -> bytes:
        return codec.encode(self.to_value())

    @classmethod
    def decode(cls, data: bytes) -> EvidenceRecord:
        return cls.from_value(codec.decode(data, MAX_RECORD_BYTES))

    def to_json(self, validators: ValidatorSet | None) -> dict[str, Any]:
        name = None
        if validators is not None:
            name = next((v.name for v in validators.validators if v.public_key == self.validator), None)
        return {
            "height": self.height,
            "view": self.view,
            "kind": self.kind,
            "validator": self.validator.hex(),
            "validator_address": address_of(self.validator),
            "validator_name": name or None,
            "seen_at_ms": self.seen_at_ms,
            "first": self.first.to_json(),
            "second": self.second.to_json(),
        }


class EvidenceBook:
    """The node's evidence, in the store: records added as the replica finds them."""

    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv
        self.count = sum(1 for _ in kv.iterate(schema.EVIDENCE))

    def add(self, record: EvidenceRecord, validators: ValidatorSet | None) -> bool:
        """Keep ``record`` (False if this fault was already recorded), log it at WARNING."""
        key = record.key
        if self._kv.get(key) is not None:
            return False
        self._kv.put(key, record.encode())
        self.count += 1
        if self.count > MAX_EVIDENCE_KEPT:
            oldest = next(iter(self._kv.iterate(schema.EVIDENCE)))[0]
            self._kv.delete(oldest)
            self.count -= 1
        doc = record.to_json(validators)
        log.warning(
            "EVIDENCE: validator %s (%s) signed two different %s messages at height %d view "
            "%d: blocks %s and %s (GET /v1/evidence)",
            doc["validator_name"] or "unnamed", doc["validator_address"], record.kind,
            record.height, record.view, record.first.block_hash.hex()[:16],
            record.second.block_hash.hex()[:16],
        )
        return True

    def newest(self, limit: int) -> list[EvidenceRecord]:
        out = []
        for _, data in self._kv.iterate(schema.EVIDENCE, reverse=True):
            out.append(EvidenceRecord.decode(data))
            if len(out) >= limit:
                break
        return out
