"""The simulated host's stand-ins for the application and the vote log.

ToyApplication builds deterministic blocks (a few fake txs, a state root that is a hash
chain over tx roots) and checks every header field the real node checks, without a VM. It
accepts what the real node accepts (up to MAX_BLOCK_TXS txs and MAX_BLOCK_BYTES a block)
and can fill its blocks with ``block_bytes`` of txs, up to the largest a proposer may build
(MAX_BLOCK_TX_BYTES), so the simulator exercises the real limits.
Its committed chain is durable: it survives a simulated crash, as LevelDB would.
MemoryVoteLog is the real ConsensusWAL on a memory store, kept across crashes of its replica.
"""

from __future__ import annotations

from collections.abc import Callable

from consensus.verifier import SignatureVerifier
from consensus.wal import MAX_VOTE_RECORD_BYTES
from core.fields import MAX_FIELD_BYTES
from core.hashing import sha256
from core.merkle import EMPTY_ROOT
from core.types import (
    MAX_BLOCK_BYTES,
    MAX_BLOCK_TX_BYTES,
    MAX_BLOCK_TXS,
    VOTE_COMMIT,
    Block,
    BlockHeader,
    CommitCertificate,
    SignedTx,
    Tx,
    ValidatorSet,
    tx_root,
    vote_signing_bytes,
)
from storage.kv import MemoryStore
from storage.wal import ConsensusWAL

FAKE_SENDER = sha256(b"hkchain/simulator/fake-sender")
FAKE_SIGNATURE = bytes(64)  # never verified: the toy application has no tx semantics
MAX_FAKE_TXS = 3  # per block, when not filling blocks
# A filled block's txs each carry this many payload bytes (a tx's value limit, less room
# for the rest of the tx), as many as fit in a proposer's budget of MAX_BLOCK_TX_BYTES.
FILL_PAYLOAD_BYTES = MAX_FIELD_BYTES - 1024


class MemoryVoteLog(ConsensusWAL):
    """The node's real ConsensusWAL over an in-memory store, so the simulator's replicas
    meet the same record and block limits as a node's; the simulator keeps it across
    crashes of the replica, as LevelDB keeps its synced writes."""

    def __init__(self) -> None:
        super().__init__(MemoryStore(), max_record_bytes=MAX_VOTE_RECORD_BYTES)
        self.saves = 0

    @property
    def record(self) -> bytes | None:
        return self.load()

    def save(self, record: bytes) -> None:
        super().save(record)
        self.saves += 1


class ToyApplication:
    """A deterministic chain without a VM. ``schedule(h)`` is the validator set of height
    h; as with governance, the set of h is known once h - 2 is committed."""

    def __init__(
        self,
        chain_id: str,
        schedule: Callable[[int], ValidatorSet],
        verifier: SignatureVerifier | None = None,
        *,
        block_bytes: int = 0,
        tx_rate_per_s: int = 0,
    ) -> None:
        if not 0 <= block_bytes <= MAX_BLOCK_TX_BYTES:
            raise ValueError(f"block_bytes must be in [0, {MAX_BLOCK_TX_BYTES}]")
        if tx_rate_per_s < 0 or (tx_rate_per_s and block_bytes):
            raise ValueError("tx_rate_per_s must not be negative, nor given with block_bytes")
        self.chain_id = chain_id
        self.block_bytes = block_bytes  # 0: a few small txs per block
        # Txs arriving at this rate: a block carries those of the time since the last one.
        self.tx_rate_per_s = tx_rate_per_s
        self._schedule = schedule
        self._verifier = verifier if verifier is not None else SignatureVerifier()
        self.blocks: list[Block] = []
        self.certificates: list[CommitCertificate] = []
        self._last_hash = sha256(b"hkchain/simulator/genesis\x00" + chain_id.encode())
        self._state_root = sha256(b"hkchain/simulator/state\x00")
        self._last_timestamp_ms = 0

    @property
    def state_root(self) -> bytes:
        """The toy state root after the last committed block."""
        return self._state_root

    @property
    def height(self) -> int:
        """The last committed height (0 before the first block)."""
        return len(self.blocks)

    def validator_set(self, height: int) -> ValidatorSet | None:
        if height < 1 or height > self.height + 2:
            return None
        return self._schedule(height)

    def proposer_of(self, height: int) -> bytes | None:
        return self.blocks[height - 1].header.proposer if 1 <= height <= len(self.blocks) else None

    def committed_view(self, height: int) -> int | None:
        return self.certificates[height - 1].view if 1 <= height <= len(self.certificates) else None

    def _tx(self, height: int, i: int, args: tuple[int | bytes, ...]) -> SignedTx:
        tx = Tx(self.chain_id, FAKE_SENDER, height * MAX_BLOCK_TXS + i, "toy", "note", args, 1,
                height + 10)
        return SignedTx(tx, FAKE_SIGNATURE)

    def _txs(self, height: int, view: int, timestamp_ms: int) -> tuple[SignedTx, ...]:
        if self.tx_rate_per_s:
            elapsed_ms = max(0, timestamp_ms - self._last_timestamp_ms)
            count = min(MAX_BLOCK_TXS, self.tx_rate_per_s * elapsed_ms // 1000)
            return tuple(self._tx(height, i, (timestamp_ms, view)) for i in range(count))
        if not self.block_bytes:
            count = (height + view) % (MAX_FAKE_TXS + 1)
            return tuple(self._tx(height, i, (timestamp_ms,)) for i in range(count))
        # Distinct payloads per (height, view, tx), so each view's block is its own.
        txs: list[SignedTx] = []
        size = 0
        while len(txs) < MAX_BLOCK_TXS:
            seed = sha256(b"%d/%d/%d" % (height, view, len(txs)))
            payload = (seed * (FILL_PAYLOAD_BYTES // len(seed) + 1))[:FILL_PAYLOAD_BYTES]
            stx = self._tx(height, len(txs), (timestamp_ms, payload))
            if size + len(stx.encoded) > self.block_bytes:
                break
            txs.append(stx)
            size += len(stx.encoded)
        return tuple(txs)

    def propose(self, height: int, view: int, timestamp_ms: int) -> Block:
        assert height == self.height + 1, "propose on top of the last commit only"
        vs = self._schedule(height)
        last = self.proposer_of(height - 1)
        timestamp_ms = max(timestamp_ms, self._last_timestamp_ms)
        txs = self._txs(height, view, timestamp_ms)
        root = tx_root(txs)
        header = BlockHeader(
            chain_id=self.chain_id,
            height=height,
            prev_hash=self._last_hash,
            tx_root=root,
            state_root=sha256(self._state_root + root),
            receipts_root=EMPTY_ROOT,
            proposer=vs.proposer(height, view, last),
            view=view,
            timestamp_ms=timestamp_ms,
            validator_set_hash=vs.hash,
        )
        return Block(header, txs)

    def validate(self, block: Block) -> bool:
        h = block.header
        if h.height != self.height + 1 or h.chain_id != self.chain_id:
            return False
        vs = self._schedule(h.height)
        return (
            h.prev_hash == self._last_hash
            and h.tx_root == tx_root(block.txs)
            and h.state_root == sha256(self._state_root + h.tx_root)
            and h.receipts_root == EMPTY_ROOT
            and h.proposer == vs.proposer(h.height, h.view, self.proposer_of(h.height - 1))
            and h.validator_set_hash == vs.hash
            and h.timestamp_ms >= self._last_timestamp_ms
            and len(block.txs) <= MAX_BLOCK_TXS
            and len(block.encoded) <= MAX_BLOCK_BYTES
        )

    def certificate_valid(self, block: Block, cert: CommitCertificate) -> bool:
        vs = self._schedule(block.height)
        keys = [k for k, _ in cert.signatures]
        if (
            cert.chain_id != self.chain_id
            or cert.height != block.height
            or cert.block_hash != block.hash
            or keys != sorted(set(keys))
            or len(keys) < vs.quorum
        ):
            return False
        msg = vote_signing_bytes(
            VOTE_COMMIT, self.chain_id, cert.height, cert.view, cert.block_hash
        )
        return all(k in vs and self._verifier.verify(k, msg, s) for k, s in cert.signatures)

    def commit(self, block: Block, certificate: CommitCertificate) -> None:
        if not self.validate(block):
            raise AssertionError(
                f"commit of a block that does not extend the chain at {block.height}"
            )
        if not self.certificate_valid(block, certificate):
            raise AssertionError(f"commit of block {block.height} without a valid certificate")
        self.blocks.append(block)
        self.certificates.append(certificate)
        self._last_hash = block.hash
        self._state_root = block.header.state_root
        self._last_timestamp_ms = block.header.timestamp_ms
