"""Signature checks of consensus messages, each (key, message, signature) verified once.

Every replica sees each vote many times (directly, inside prepared certificates, inside
NEW-VIEWs); Ed25519 verification dominates the cost of consensus, so results are kept in
a bounded memo. The memo is a pure function of its key, so a host running many replicas
in one process (the simulator) may share one verifier between them.
"""

from __future__ import annotations

from core.crypto import verify
from core.types import Vote


class SignatureVerifier:
    """Ed25519 verification with a bounded memo of results."""

    def __init__(self, max_entries: int = 1 << 16) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self._max_entries = max_entries
        self._results: dict[tuple[bytes, bytes, bytes], bool] = {}
        self._votes: dict[Vote, bool] = {}
        self.verified = 0  # signatures actually checked (not answered from the memo)

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        key = (public_key, signature, message)
        hit = self._results.get(key)
        if hit is not None:
            return hit
        ok = verify(public_key, message, signature)
        self.verified += 1
        if len(self._results) >= self._max_entries:
            # Drop the older half: insertion order is deterministic, so is the eviction.
            for k in list(self._results)[: self._max_entries // 2]:
                del self._results[k]
        self._results[key] = ok
        return ok

    def verify_vote(self, vote: Vote) -> bool:
        """Like verify, keyed by the vote itself so its signing bytes are built once."""
        hit = self._votes.get(vote)
        if hit is not None:
            return hit
        ok = self.verify(vote.validator, vote.signing_bytes(), vote.signature)
        if len(self._votes) >= self._max_entries:
            for k in list(self._votes)[: self._max_entries // 2]:
                del self._votes[k]
        self._votes[vote] = ok
        return ok
