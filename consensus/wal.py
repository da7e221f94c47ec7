"""What a validator must not forget across a crash: the record it writes through the
injected VoteLog before any vote leaves it.

One record, overwritten on every save: the height and view it is in, whether it has asked
to leave that view, the block it PREPAREd and COMMITted in that view, and its highest
prepared certificate at the height. A restarted replica at the same height never votes in
an earlier view and never votes for another block in this one.

The record names blocks by hash only, so it has a small fixed bound (MAX_VOTE_RECORD_BYTES)
whatever the block size. Safety needs nothing more: a restarted validator reports the
certificate (hashes and signatures) in its VIEW-CHANGE, and a NEW-VIEW must re-propose the
block with that hash. The body of the prepared block, which it needs to re-propose that
block itself, is kept beside the record in the VoteLog's block slot (sized for blocks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from consensus.messages import MAX_VIEW, PreparedCertificate
from core.errors import DecodeError
from core.fields import MAX_U64
from core.hashing import HASH_SIZE
from core.types import MAX_CERTIFICATE_BYTES, Record

TAG_VOTE_RECORD = 40
# Height, view, a flag and two hashes, and one prepared certificate.
MAX_VOTE_RECORD_BYTES = 256 + MAX_CERTIFICATE_BYTES


def _optional_hash(v: Any, what: str) -> bytes | None:
    if v is None:
        return None
    if type(v) is not bytes or len(v) != HASH_SIZE:
        raise DecodeError(f"{what}: expected a hash or nil")
    return v


def _prepared(v: Any) -> PreparedCertificate:
    if type(v) is not bytes:
        raise DecodeError("prepared: expected the bytes of a certificate")
    return PreparedCertificate.decode(v)


@dataclass(frozen=True, eq=True)
class VoteRecord(Record):
    TAG: ClassVar[int] = TAG_VOTE_RECORD
    MAX_BYTES: ClassVar[int] = MAX_VOTE_RECORD_BYTES

    height: int
    view: int
    view_change_sent: bool
    prepared_hash: bytes | None  # the block this validator PREPAREd in ``view``
    committed_hash: bytes | None  # the block this validator COMMITted in ``view``
    prepared: PreparedCertificate | None  # highest prepared certificate at ``height``

    def to_value(self) -> list[Any]:
        return [
            TAG_VOTE_RECORD,
            self.height,
            self.view,
            self.view_change_sent,
            self.prepared_hash,
            self.committed_hash,
            # Nested as its own canonical bytes: encoded once per certificate, not per save.
            None if self.prepared is None else self.prepared.encoded,
        ]

    @classmethod
    def from_value(cls, v: Any) -> VoteRecord:
        if type(v) is not list or len(v) != 7 or v[0] != TAG_VOTE_RECORD or type(v[0]) is not int:
            raise DecodeError("expected a VoteRecord")
        if type(v[1]) is not int or not 0 <= v[1] <= MAX_U64:
            raise DecodeError("height out of range")
        if type(v[2]) is not int or not 0 <= v[2] <= MAX_VIEW:
            raise DecodeError("view out of range")
        if type(v[3]) is not bool:
            raise DecodeError("view_change_sent must be a bool")
        return cls(
            v[1],
            v[2],
            v[3],
            _optional_hash(v[4], "prepared_hash"),
            _optional_hash(v[5], "committed_hash"),
            None if v[6] is None else _prepared(v[6]),
        )
