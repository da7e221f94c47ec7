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
from typing import ClassVar

from consensus.messages import VIEW, PreparedCertificate
from core.schema import HASH, U64, Bool, Opt, RecBytes, record, wire
from core.types import MAX_CERTIFICATE_BYTES, Record

TAG_VOTE_RECORD = 40
# Height, view, a flag and two hashes, and one prepared certificate.
MAX_VOTE_RECORD_BYTES = 256 + MAX_CERTIFICATE_BYTES


@record(TAG_VOTE_RECORD)
@dataclass(frozen=True, eq=True)
class VoteRecord(Record):
    MAX_BYTES: ClassVar[int] = MAX_VOTE_RECORD_BYTES
    WIRE_NOTE: ClassVar[str] = ("Kept by each validator in its own store, never sent. The "
                                "certificate is nested as its own canonical bytes, encoded "
                                "once per certificate rather than once per save.")

    height: int = wire(U64)
    view: int = wire(VIEW)
    view_change_sent: bool = wire(Bool())
    # the block this validator PREPAREd in ``view``
    prepared_hash: bytes | None = wire(Opt(HASH))
    # the block this validator COMMITted in ``view``
    committed_hash: bytes | None = wire(Opt(HASH))
    # highest prepared certificate at ``height``
    prepared: PreparedCertificate | None = wire(Opt(RecBytes(PreparedCertificate)))
