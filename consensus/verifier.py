"""Signature checks of consensus messages, each (key, message, signature) verified once.

Every replica sees each vote many times (directly, inside prepared certificates, inside
NEW-VIEWs); Ed25519 verification dominates the cost of consensus, so results are kept in
a bounded memo. The memo is a pure function of its key, so a host running many replicas
in one process (the simulator) may share one verifier between them.
"""

from __future__ import annotations

from typing import TypeVar

from core.crypto import verify
from core.types import Vote

K = TypeVar("K")


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
        _remember(self._results, key, ok, self._max_entries)
        return ok

    def verify_vote(self, vote: Vote) -> bool:
        """Like verify, keyed by the vote itself so its signing bytes are built once."""
        hit = self._votes.get(vote)
        if hit is not None:
            return hit
        ok = self.verify(vote.validator, vote.signing_bytes(), vote.signature)
        _remember(self._votes, vote, ok, self._max_entries)
        return ok

    def signed(self, vote: Vote) -> None:
        """Remember a vote this replica has just signed as valid: it comes back in a
        collector's bundle and in certificates, and checking one's own signature there
        would be a verification wasted."""
        _remember(self._votes, vote, True, self._max_entries)
        _remember(self._results, (vote.validator, vote.signature, vote.signing_bytes()), True,
                  self._max_entries)


def _remember(memo: dict[K, bool], key: K, ok: bool, max_entries: int) -> None:
    if len(memo) >= max_entries:
        # Drop the older half: insertion order is deterministic, so is the eviction.
        for k in list(memo)[: max_entries // 2]:
            del memo[k]
    memo[key] = ok
