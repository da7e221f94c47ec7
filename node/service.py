"""The node: composes store, executor, mempool, consensus, p2p and RPC on one asyncio loop.

Read top-down for the life of a tx: ``submit`` (RPC) checks signatures off the loop and
admits txs to the mempool, which journals them and hands their hashes to gossip; the
proposer's ``ChainApplication.propose`` reaps the mempool, executes on an overlay and
builds the header; the proposal goes to the peers by reference (header and tx hashes,
p2p/proposals.py) and each rebuilds the block from its mempool, fetching what it lacks;
validators ``validate`` by executing the same block (the overlay is
cached by block hash so ``commit`` does not execute again); ``commit`` writes the block in
one synced batch, clears the mempool of its txs and publishes its events.

Blocks execute in one worker thread, never on the event loop: a large block takes seconds
on a loaded machine, and a loop that busy would leave the peers' pings unanswered past the
heartbeat's deadline (the links dropped as dead, the round's votes lost: a stall). The
block a proposing tick is due to make is built there before the tick steps the replica
(``build_ahead``); a proposed block for the next height is checked and executed there
before its message steps the replica (``execute_ahead``), so ``validate`` answers from the
cache; sync executes a certified block there before committing it. The worker only reads
the store; its result is dropped if a block committed meanwhile, and whatever it could not
settle falls back to executing on the loop as before.

Block production pacing: the replica proposes at its first tick of a height. The
proposer's node puts that tick off until ``empty_block_interval_ms`` after the last commit
while the mempool is empty, and until ``batch_interval_ms`` after it while less than a
full block is pending (a tx arriving brings the tick forward to that): an idle chain makes
one empty block per interval, a lightly loaded one a block of what arrived per batch
interval, and a busy one, whose blocks fill, proposes back to back.
While a block gathers txs, a client's tx goes at once only to its proposer; the other
peers get it with the rest of that wait's txs shortly before the proposal is due
(``PUSH_LEAD_MS``; p2p/gossip.py).
The validators' view timers grant the empty-block wait while their own mempools are empty
(``ReplicaConfig.idle_wait_ms``; a tx admitted ends it through ``Replica.on_work``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from consensus.api import Message, Output
from consensus.messages import (
    Commit,
    Decision,
    NewView,
    Prepare,
    PrePrepare,
    ViewChange,
    decode_message,
)
from consensus.replica import MISSED_TURN_TIMEOUT_MS, Replica, ReplicaConfig, absent_timeout_ms_for
from consensus.verifier import SignatureVerifier
from consensus.wal import MAX_VOTE_RECORD_BYTES
from core.crypto import PrivateKey, parse_address
from core.errors import ChainError, DecodeError, SignatureError, ValidationError
from core.render import receipt_json, validators_json
from core.types import (
    VOTE_PREPARE,
    Block,
    BlockHeader,
    CommitCertificate,
    Receipt,
    SignedTx,
    ValidatorSet,
    Vote,
    receipts_root,
    tx_root,
)
from node.api import ViewCall
from node.blobs import open_blob_service
from node.config import NodeConfig
from node.events import EventHub
from node.evidence import EvidenceBook, EvidenceRecord
from node.genesis import Genesis, GenesisError, ensure_genesis, load_genesis
from node.inbox import Inbox, hold_s_for
from node.mempool import Mempool, MempoolError
from node.metrics import Metrics
from node.progress import CommitProgress
from node.queries import QueryService
from node.register import RegisterService
from node.rpc import RpcServer, tls_context
from node.statement import parse_cursor, parse_limit, statement, touched_accounts
from node.statesync import (
    ChainSnapshotSource,
    join_by_state_sync,
    needs_state_sync,
)
from node.supervisor import LocalFault, Supervisor, describe, is_local_fault
from p2p.errors import PeerMisbehaved
from p2p.gossip import TxGossip
from p2p.messages import ConsensusFrame, Frame, Proposal, VoteBundle, prime_block
from p2p.network import Identity, Network, Peer
from p2p.proposals import ProposalRelay, compact
from p2p.statesync import SnapshotServer
from p2p.sync import BlockSync
from privacy.register import PRIVACY_DIR, PrivacyStore
from storage.chain import ChainStore
from storage.leveldb import LevelDBStore
from storage.state import Overlay
from storage.wal import ConsensusWAL
from vm.api import BlockContext, BlockGasExceeded, Executor
from vm.layout import VALIDATORS_KEY

if TYPE_CHECKING:
    from analytics.embed import EmbeddedIndexer

log = logging.getLogger("hkchain.node")
T = TypeVar("T")

# A proposal may carry a timestamp this far ahead of a validator's clock.
MAX_CLOCK_DRIFT_MS = 15_000
# Signature checks of a batch this large move to a worker thread (PyNaCl releases the GIL).
THREAD_VERIFY_MIN_TXS = 16
MAX_EXECUTED_CACHE = 16
MAX_REFUSED_CACHE = 64
MAX_RECENT_MESSAGES = 256
MAX_COLLECTING = 1024  # (kind, height, view, block) gatherings a collector keeps at once
MAX_PENDING_BEFORE_DRY_RUN = 64  # the nonce gap the mempool allows
# View 0 of a height waits at least this many times the median of the last heights
# (ReplicaConfig.timeout_margin; consensus.view_timeout_ms is the floor): a network whose
# heights take seconds under load, as 64 validators on two cores do, stops changing view
# over heights that are merely slow.
VIEW_TIMEOUT_MARGIN = 3
# A validator this node has had no link to for ABSENT_AFTER_S is taken as down: a view it
# proposes waits ``absent_timeout_ms_for`` the view timeout (consensus/replica.py)
# instead of the whole timeout at each of its turns. Long enough for a peer's restart
# and the dialer's backoff (p2p.reconnect_max_ms, 2 s by default) to bring a link back
# first.
ABSENT_AFTER_S = 5.0
# While a block gathers txs, a client's tx reaches the peers other than the proposer at
# least this long before the proposal is due (by this node's clock, counted from its own
# commit): the nodes' commits differ, and a body that comes after the proposal costs its
# validator a fetch from the proposer. The lead grows by how much sooner than this node
# expected the last ``PUSH_LEAD_WINDOW`` proposals came, at most
# (``Node._note_proposal_arrival``). Where commits differ by about the whole wait (64
# validators on two cores), the lead is the wait and nothing is held: a node there
# rarely has two txs in one wait to send together anyway.
PUSH_LEAD_MS = 20
PUSH_LEAD_WINDOW = 64
# The mempool journal's txs are written on admission and deleted on commit, so nearly all
# it writes is dead within seconds. LevelDB drops a dead entry only when it merges the
# tables holding it, and a table is written only when the write buffer fills: the buffer
# (and the log beside it) bounds how much dead data the journal carries. 8 MiB kept about
# 11 MiB of it on a loaded node (docs/PERFORMANCE.md, "Bytes on disk per committed tx").
MEMPOOL_JOURNAL_WRITE_BUFFER_BYTES = 1 << 20


class NodeError(ChainError):
    code = "node_error"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _verify_all(txs: Sequence[SignedTx]) -> list[bool]:
    out = []
    for stx in txs:
        try:
            stx.verify_signature()
            out.append(True)
        except SignatureError:
            out.append(False)
    return out


@dataclass
class _Executed:
    overlay: Overlay
    receipts: list[Receipt]


class ChainApplication:
    """consensus.api.Application over the store, executor and mempool."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._executed: dict[bytes, _Executed] = {}
        # Blocks found invalid off the loop, with why (validate answers False at once).
        self._refused: dict[bytes, str] = {}
        # Executions running in the worker, by block hash (one shared by every waiter).
        self._running: dict[bytes, asyncio.Future[None]] = {}
        # A block built off the loop for (height, view), handed out by ``propose``.
        self._built: dict[tuple[int, int], Block] = {}
        self._running_builds: dict[tuple[int, int], asyncio.Future[None]] = {}
        # The one block per (height, view) executed ahead (a proposer's turn).
        self._ahead: dict[tuple[int, int], bytes] = {}
        # One worker thread executes blocks, so the event loop keeps answering pings,
        # votes and clients while a large block runs (module docstring).
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hkchain-execute")

    @property
    def store(self) -> ChainStore:
        return self.node.store

    def validator_set(self, height: int) -> ValidatorSet | None:
        vs = self.store.validator_set(height)
        if vs is not None:
            return vs
        # Changes decided at h take effect at h + 2, so the head state answers for head + 2.
        if height == self.store.height + 2:
            return self.node.executor.validator_set(self.store.state(), height)
        return None

    def proposer_of(self, height: int) -> bytes | None:
        head = self.store.head
        if head is not None and head.height == height:
            return head.header.proposer
        block = self.store.block(height) if height >= 0 else None
        return None if block is None else block.header.proposer

    def committed_view(self, height: int) -> int | None:
        cert = self.store.certificate(height) if height >= 1 else None
        return None if cert is None else cert.view

    def _context(self, header: BlockHeader) -> BlockContext:
        return BlockContext(header.chain_id, header.height, header.timestamp_ms, header.proposer)

    def propose(self, height: int, view: int, timestamp_ms: int) -> Block:
        built = self._built.pop((height, view), None)
        self._built.clear()
        if built is not None and built.hash in self._executed and self.store.height == height - 1:
            return built  # built off the loop a moment ago, on this same head
        node = self.node
        head = self.store.head
        assert head is not None and height == head.height + 1, "propose on top of the head"
        vs = self.validator_set(height)
        assert vs is not None
        txs = node.mempool.reap(node.config.block.max_block_txs, node.config.block.max_block_bytes)
        block, executed = self._build(head, vs, view, max(timestamp_ms, head.header.timestamp_ms), txs)
        self._remember(block.hash, executed)
        return block

    def _build(self, head: Block, vs: ValidatorSet, view: int, timestamp_ms: int,
               txs: list[SignedTx]) -> tuple[Block, _Executed]:
        """Execute ``txs`` on ``head`` into the block proposed at (head + 1, view). Reads
        the store and changes nothing, so it may run in the worker."""
        node = self.node
        height = head.height + 1
        started = time.perf_counter()
        started_cpu_s = time.thread_time()
        overlay = self.store.overlay()
        ctx = BlockContext(node.chain_id, height, timestamp_ms, node.key.public_key)
        try:
            receipts = node.executor.execute_block(overlay, ctx, txs)
        except BlockGasExceeded as exc:
            # Rare (blocks of heavy calls): propose the part that fits; the rest stays
            # pending for the next block.
            txs = txs[: exc.index]
            overlay = self.store.overlay()
            receipts = node.executor.execute_block(overlay, ctx, txs)
        header = BlockHeader(
            chain_id=node.chain_id,
            height=height,
            prev_hash=head.hash,
            tx_root=tx_root(txs),
            state_root=overlay.root(),
            receipts_root=receipts_root(receipts),
            proposer=node.key.public_key,
            view=view,
            timestamp_ms=timestamp_ms,
            validator_set_hash=vs.hash,
        )
        block = Block(header, tuple(txs))
        log.debug("built block %d (%d txs) in %.1f ms", height, len(txs),
                  (time.perf_counter() - started) * 1000)
        node.metrics.block_cpu_seconds.labels("build").inc(time.thread_time() - started_cpu_s)
        return block, _Executed(overlay, receipts)

    async def build_ahead(self, height: int, view: int) -> None:
        """Build the block this node is due to propose at (height, view) in the worker,
        for ``propose`` to hand out: the event loop stays free while it executes."""
        key = (height, view)
        running = self._running_builds.get(key)
        if running is None:
            if key in self._built:
                return
            running = asyncio.ensure_future(self._build_ahead(height, view))
            self._running_builds[key] = running
            running.add_done_callback(lambda _: self._running_builds.pop(key, None))
        await asyncio.shield(running)

    async def _build_ahead(self, height: int, view: int) -> None:
        head = self.store.head
        vs = self.validator_set(height)
        if head is None or height != head.height + 1 or vs is None:
            return
        node = self.node
        txs = node.mempool.reap(node.config.block.max_block_txs, node.config.block.max_block_bytes)
        serial = self.store.state().serial
        loop = asyncio.get_running_loop()
        try:
            block, executed = await loop.run_in_executor(
                self._worker, self._build, head, vs, view,
                max(now_ms(), head.header.timestamp_ms), txs)
        except Exception as exc:
            if self.store.state().serial == serial:
                raise
            log.debug("block %d built while the head moved (%s): dropped", height, exc)
            return
        if self.store.state().serial != serial:
            return  # a block committed meanwhile: built on an old head
        self._remember(block.hash, executed)
        self._built[(height, view)] = block

    async def execute_ahead(self, block: Block) -> None:
        """Check and execute a proposed ``block`` in the worker before the replica asks
        ``validate`` about it (the answer is then ready); the event loop stays free while
        it executes. A block for another height than the next, or already known, is left
        to ``validate``."""
        if block.hash in self._executed or block.hash in self._refused:
            return
        running = self._running.get(block.hash)
        if running is None:
            head = self.store.head
            vs = self.validator_set(block.height)
            if head is None or block.height != head.height + 1 or vs is None:
                return
            slot = (block.height, block.header.view)
            if self._ahead.setdefault(slot, block.hash) != block.hash:
                # A second block for one proposer's turn (equivocation): left to the
                # replica, which proves it and validates only what it must, as before.
                return
            running = asyncio.ensure_future(self._execute_ahead(block, vs))
            self._running[block.hash] = running
            running.add_done_callback(lambda _: self._running.pop(block.hash, None))
        await asyncio.shield(running)

    async def _execute_ahead(self, block: Block, vs: ValidatorSet) -> None:
        # Signatures the mempool already verified are not checked again (read here, on
        # the loop: the mempool is the loop's).
        unchecked = [stx for stx in block.txs if not self.node.mempool.is_verified(stx)]
        serial = self.store.state().serial
        loop = asyncio.get_running_loop()
        try:
            outcome = await loop.run_in_executor(self._worker, self._check, block, vs, unchecked)
        except Exception as exc:
            # Not the block's fault (that is a ValidationError, returned): the node's own,
            # or the head moved under the execution. ``validate`` tries again on the loop.
            log.debug("executing block %d ahead failed: %s", block.height, exc)
            return
        if self.store.state().serial != serial:
            return  # a block committed meanwhile: executed on an old head
        if isinstance(outcome, _Executed):
            self._remember(block.hash, outcome)
        else:
            log.warning("refusing block %d (%s): %s", block.height, block.hash.hex()[:12],
                        outcome.message)
            self._refused[block.hash] = outcome.message
            while len(self._refused) > MAX_REFUSED_CACHE:
                del self._refused[next(iter(self._refused))]

    def _check(self, block: Block, vs: ValidatorSet,
               unchecked: list[SignedTx]) -> _Executed | ChainError:
        """What a proposed block must pass, with the signatures of ``unchecked`` verified:
        reads the store and changes nothing, so ``execute_ahead`` runs it in the worker and
        ``validate`` on the loop."""
        started = time.perf_counter()
        started_cpu_s = time.thread_time()
        try:
            self.check_header(block, vs)
            h = block.header
            if h.proposer != vs.proposer(h.height, h.view, self.proposer_of(h.height - 1)):
                raise ValidationError("block proposed by a validator not its proposer")
            if h.timestamp_ms > now_ms() + MAX_CLOCK_DRIFT_MS:
                raise ValidationError("block timestamp is too far in the future")
            for stx in unchecked:
                stx.verify_signature()
            for stx in block.txs:
                if self.store.tx_location(stx.hash) is not None:
                    raise ValidationError("block repeats a committed tx")
            executed = self._execute(block)
        except (ValidationError, DecodeError, SignatureError) as exc:
            return exc
        finally:
            self.node.metrics.block_cpu_seconds.labels("check").inc(time.thread_time() - started_cpu_s)
        log.debug("validated block %d (%d txs) in %.1f ms", block.height, len(block.txs),
                  (time.perf_counter() - started) * 1000)
        return executed

    async def execute_synced_ahead(self, block: Block, certificate: CommitCertificate) -> None:
        """Execute a block from sync in the worker once its certificate verifies, for
        ``apply_synced`` to commit without executing it on the loop. Anything that goes
        wrong is left for ``apply_synced`` to find and report."""
        vs = self.store.validator_set(block.height)
        if (vs is None or block.height != self.store.height + 1 or block.hash in self._executed
                or certificate.block_hash != block.hash):
            return
        try:
            certificate.verify(self.node.chain_id, vs)
        except ValidationError:
            return
        serial = self.store.state().serial
        try:
            executed = await asyncio.get_running_loop().run_in_executor(
                self._worker, self._execute, block)
        except Exception:
            return
        if self.store.state().serial == serial:
            self._remember(block.hash, executed)

    async def close(self) -> None:
        """Wait for the worker to finish what it runs (it reads the store)."""
        await asyncio.get_running_loop().run_in_executor(None, self._worker.shutdown)

    def _remember(self, block_hash: bytes, executed: _Executed) -> None:
        self._executed[block_hash] = executed
        while len(self._executed) > MAX_EXECUTED_CACHE:
            del self._executed[next(iter(self._executed))]

    def check_header(self, block: Block, vs: ValidatorSet) -> None:
        """Everything about ``block`` that needs no execution; raises ValidationError."""
        head = self.store.head
        h = block.header
        if head is None or h.height != head.height + 1:
            raise ValidationError(f"block {h.height} does not follow the head {self.store.height}")
        if h.chain_id != self.node.chain_id:
            raise ValidationError("block of another chain")
        if h.prev_hash != head.hash:
            raise ValidationError("block does not extend the head")
        if h.validator_set_hash != vs.hash:
            raise ValidationError("block names another validator set")
        if h.timestamp_ms < head.header.timestamp_ms:
            raise ValidationError("block timestamp is before its parent's")
        block.validate_basic()

    def _execute(self, block: Block) -> _Executed:
        overlay = self.store.overlay()
        try:
            receipts = self.node.executor.execute_block(
                overlay, self._context(block.header), block.txs
            )
        except BlockGasExceeded as exc:
            raise ValidationError(exc.message) from exc
        if overlay.root() != block.header.state_root:
            raise ValidationError("state root differs from the header's")
        if receipts_root(receipts) != block.header.receipts_root:
            raise ValidationError("receipts root differs from the header's")
        return _Executed(overlay, receipts)

    def validate(self, block: Block) -> bool:
        if block.hash in self._executed:
            return True  # our own proposal, or already validated
        if block.hash in self._refused:
            return False  # found invalid by ``execute_ahead``
        vs = self.validator_set(block.height)
        if vs is None:
            return False
        mempool = self.node.mempool
        unchecked = [stx for stx in block.txs if not mempool.is_verified(stx)]
        outcome = self._check(block, vs, unchecked)
        if not isinstance(outcome, _Executed):
            log.warning("refusing block %d (%s): %s", block.height, block.hash.hex()[:12],
                        outcome.message)
            return False
        for stx in unchecked:
            mempool.remember_verified(stx)
        self._remember(block.hash, outcome)
        return True

    def commit(self, block: Block, certificate: CommitCertificate) -> None:
        executed = self._executed.pop(block.hash, None)
        if executed is None:
            executed = self._execute(block)
        self.node.commit_block(block, certificate, executed.overlay, executed.receipts)
        # Every other cached execution was on the old head: useless now.
        self._executed.clear()
        self._built.clear()
        self._ahead.clear()
        self._refused.clear()

    def apply_synced(self, block: Block, certificate: CommitCertificate) -> None:
        """A block from sync: trusted only through its certificate."""
        vs = self.store.validator_set(block.height)
        if vs is None:
            raise ValidationError(f"validator set of height {block.height} unknown")
        if certificate.height != block.height or certificate.block_hash != block.hash:
            raise ValidationError("certificate is for another block")
        certificate.verify(self.node.chain_id, vs)
        self.check_header(block, vs)
        # A quorum executed it, so its tx signatures were checked by honest validators.
        try:
            executed = self._executed.pop(block.hash, None) or self._execute(block)
        except ValidationError as exc:
            # Certified by a quorum, so its roots are the chain's: executing it to other
            # roots here is this node's fault, never the peer's that served it.
            raise LocalFault(
                f"block {block.height} certified by a quorum executes to other results here: "
                f"{exc.message}", code="state_diverged",
            ) from exc
        self.node.commit_block(block, certificate, executed.overlay, executed.receipts, synced=True)
        self._executed.clear()
        self._built.clear()
        self._ahead.clear()
        self._refused.clear()


class _Admission:
    def __init__(self, node: Node) -> None:
        self.node = node
        # The set read for the head it was read at: a broadcast to validators or to
        # observers asks about every peer, and the store would read it from LevelDB
        # each time (30 times every 0.5 s at 31 validators, for the Status to observers).
        # The next height's set is written in the head's own batch, so it stays right
        # until the head moves.
        self._read: tuple[Block | None, ValidatorSet | None] | None = None

    def validators(self) -> ValidatorSet | None:
        head = self.node.store.head
        read = self._read
        if read is not None and read[0] is head:
            return read[1]
        vs = self.node.current_validators()
        self._read = (head, vs)
        return vs

    def is_validator(self, public_key: bytes) -> bool:
        vs = self.validators()
        return vs is not None and public_key in vs

    def is_admitted(self, public_key: bytes) -> bool:
        return self.is_validator(public_key) or public_key in self.node.config.p2p.observers

    def height(self) -> int:
        return self.node.store.height


class _SyncTarget:
    def __init__(self, node: Node) -> None:
        self.node = node

    def height(self) -> int:
        return self.node.store.height

    def committed_block(self, height: int) -> tuple[Block, CommitCertificate] | None:
        store = self.node.store
        block = store.block(height)
        cert = store.certificate(height)
        if block is None or cert is None:
            return None
        return block, cert

    async def apply_synced(self, block: Block, certificate: CommitCertificate) -> None:
        await self.node.app.execute_synced_ahead(block, certificate)
        if block.height != self.node.store.height + 1:
            return  # consensus committed it while it executed: nobody's fault
        self.node.app.apply_synced(block, certificate)


class _TxPool:
    def __init__(self, node: Node) -> None:
        self.node = node

    def has(self, tx_hash: bytes) -> bool:
        return self.node.holds_tx(tx_hash)

    def get(self, tx_hash: bytes) -> SignedTx | None:
        return self.node.pending_tx(tx_hash)

    def pending_hashes(self) -> list[bytes]:
        return self.node.mempool.hashes() + self.node.inbox.hashes()

    def admit_from_peer(self, txs: list[SignedTx]) -> list[bytes]:
        return self.node.admit_from_peer(txs)


class _ProposalHost:
    """p2p.proposals.ProposalHost and BodySource over the node: proposals by reference
    are rebuilt from the mempool, the inbox and the bodies gossip received lately."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def body(self, tx_hash: bytes) -> SignedTx | None:
        node = self.node
        return node.pending_tx(tx_hash) or node.gossip.recent.get(tx_hash)

    def admit(self, peer: Peer, proposal: Proposal) -> bool:
        return self.node.admit_proposal(peer, proposal)

    def deliver(self, peer: Peer, proposal: Proposal, block: Block, cpu_s: float) -> None:
        self.node.on_rebuilt_proposal(peer, proposal, block, cpu_s)


class Node:
    """One hkchain node. ``await start()``, then ``await stop()``."""

    def __init__(
        self,
        config: NodeConfig,
        home: Path,
        key: PrivateKey,
        genesis: Genesis,
        executor: Executor,
        store: ChainStore,
        mempool_journal: LevelDBStore | None,
    ) -> None:
        if genesis.chain_id != config.chain_id:
            raise GenesisError(
                f"config chain_id {config.chain_id!r} differs from genesis {genesis.chain_id!r}"
            )
        # A certificate that cannot serve stops the start before anything is built.
        tls = config.rpc_tls_paths(home)
        rpc_tls = tls_context(*tls) if tls is not None else None
        self.config = config
        self.home = home
        self.key = key
        self.chain_id = config.chain_id
        self.genesis = genesis
        self.executor = executor
        self.store = store
        self.metrics = Metrics()
        self.events = EventHub(config.rpc.max_ws_subscribers)
        self.genesis_block = ensure_genesis(store, genesis, executor)
        self._journal = mempool_journal
        self.mempool = Mempool(
            config.mempool, self.chain_id, executor, store.state, lambda: store.height,
            mempool_journal,
        )
        readmitted, dropped = self.mempool.recover(lambda h: store.tx_location(h) is not None)
        if readmitted or dropped:
            log.info("mempool journal: %d txs re-admitted, %d dropped", readmitted, dropped)
        self.app = ChainApplication(self)
        self.observer = config.observer
        if self.observer and self._key_is_validator():
            raise NodeError(
                f"node {config.name} is set up as an observer, but its key is a validator's of "
                f"the current set: an observer needs a key of its own (run `hkchain init "
                f"--observer --join …`), or start the node without --observer",
                code="observer_is_validator",
            )
        # Shared with the replica: a signature the node checks on arrival (to blame the
        # peer that sent a forgery) is not checked again.
        self.verifier = SignatureVerifier()
        self.replica = Replica(
            self.chain_id,
            None if self.observer else key,  # without a key it follows, never votes
            self.app,
            ConsensusWAL(store.kv, max_record_bytes=MAX_VOTE_RECORD_BYTES),
            store.height + 1,
            ReplicaConfig(
                view_timeout_ms=config.consensus.view_timeout_ms,
                max_view_timeout_ms=config.consensus.max_view_timeout_ms,
                # An idle chain's proposer waits this long before its empty block (_pace).
                idle_wait_ms=config.block.empty_block_interval_ms,
                timeout_margin=VIEW_TIMEOUT_MARGIN,
                absent_timeout_ms=absent_timeout_ms_for(config.consensus.view_timeout_ms),
                missed_turn_timeout_ms=min(MISSED_TURN_TIMEOUT_MS, config.consensus.view_timeout_ms),
            ),
            verifier=self.verifier,
            last_commit=self._last_commit(),
        )
        self.network = Network(
            config.p2p, Identity(key, self.chain_id, self.genesis_block.hash), _Admission(self)
        )
        self.gossip = TxGossip(self.network, _TxPool(self))
        # A fetch of a proposal's missing bodies gives up after a quarter of the configured
        # view timeout, leaving the view time to change (the wait for a collector's bundle
        # is a quarter of the current view's timeout, which follows the network).
        self._quarter_view_s = config.consensus.view_timeout_ms / 4000
        # PRE-PREPAREs travel by reference (p2p/proposals.py).
        proposal_host = _ProposalHost(self)
        self.proposals = ProposalRelay(self.network, proposal_host, proposal_host,
                                       self._quarter_view_s)
        self.metrics.watch_proposals(self.proposals)
        self.metrics.watch_frames(self.network.frames_received)
        self.sync = BlockSync(self.network, _SyncTarget(self), config.p2p.sync_batch_blocks)
        # Joining nodes start from a snapshot of this store (node/statesync.py).
        self.snapshots = SnapshotServer(self.network, ChainSnapshotSource(store))
        self.queries = QueryService(store, executor, config.rpc)
        self.blobs = open_blob_service(config.data_path(home), self.network, self)  # culture works by hash, replicated (node/blobs.py)
        # The committee's sealed register (node/register.py): sealed cards only, never a key.
        self.register = RegisterService(PrivacyStore(config.data_path(home) / PRIVACY_DIR), self.chain_id, self)
        self.rpc = RpcServer(self, self.blobs, config.rpc, self.register, ssl_context=rpc_tls)
        self.analytics = self._open_analytics()
        # A fault of the node's own (its store, its disk) stops it with a clear message;
        # it is never blamed on a peer and never logged and carried on.
        self.fatal: NodeError | None = None
        self.supervisor = Supervisor(
            self.fail, on_restart=lambda name: self.metrics.task_restarts.labels(name).inc()
        )
        self.network.on_handler_error = self.supervisor.report
        self.network.on_misbehaviour.append(
            lambda peer, code: self.metrics.p2p_dropped_peers.labels(peer.label, code).inc())
        self.network.on_tampered.append(
            lambda peer: self.metrics.p2p_tampered_links.labels(peer.label).inc())
        self.mempool.on_background_error = self.supervisor.report
        self.evidence_book = EvidenceBook(store.kv)
        self.metrics.evidence_records.set(self.evidence_book.count)
        self.network.handle(ConsensusFrame.TAG, self._on_consensus_frame)  # type: ignore[arg-type]
        self.network.handle(VoteBundle.TAG, self._on_vote_bundle)  # type: ignore[arg-type]
        self.network.on_connect.append(self._on_peer_connected)
        self.network.on_disconnect.append(self._on_peer_change)
        # When each validator was last seen linked (loop time), and those taken as down.
        self._linked_s: dict[bytes, float] = {}
        self._absent: frozenset[bytes] = frozenset()
        self._absent_timer: asyncio.TimerHandle | None = None
        self.absent_after_s = ABSENT_AFTER_S
        self.mempool.on_added.append(self._on_txs_added)
        # Peers' txs this validator holds, not admitted, until it may propose them (node/inbox.py).
        self.inbox = Inbox(config.mempool.max_txs, config.mempool.max_bytes)
        self.hold_s = hold_s_for(config.consensus.view_timeout_ms)
        self._inbox_timer: asyncio.TimerHandle | None = None
        self._inbox_drain: asyncio.Handle | None = None
        self._timer: asyncio.Handle | None = None
        self._paced = False  # the pending tick was put off by block pacing
        self._adding_from_client = False  # set while submit() admits txs (see _on_txs_added)
        self._recent: list[tuple[int, Frame]] = []
        # As the collector of a view: the votes gathered per (kind, height, view, block),
        # until a quorum goes out as one bundle; then the key is kept as sent.
        self._collected: dict[tuple[int, int, int, bytes], dict[bytes, Vote]] = {}
        self._bundled: set[tuple[int, int, int, bytes]] = set()
        self._last_commit_ms = now_ms()
        self._progress = CommitProgress(log)  # the log's lines on committed blocks
        self._push_lead_ms = PUSH_LEAD_MS
        self._proposals_early_ms: deque[int] = deque(maxlen=PUSH_LEAD_WINDOW)
        self._stopped = asyncio.Event()
        self._started = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.metrics.height.set(store.height)

    # --- lifecycle -------------------------------------------------------------------------

    @classmethod
    def open(cls, home: Path, config: NodeConfig | None = None, passphrase: str | None = None) -> Node:
        """Load config, key, genesis and stores from ``home`` (blocking: call before the
        loop's hot path)."""
        home = Path(home)
        config = config or NodeConfig.load(home)
        key = PrivateKey.load(config.key_path(home), passphrase)
        genesis = load_genesis(config.genesis_path(home))
        data = config.data_path(home)
        data.mkdir(parents=True, exist_ok=True)
        from vm.executor import ContractExecutor

        executor = ContractExecutor(genesis.chain_id)
        store = ChainStore.open(data / "chain")
        journal: LevelDBStore | None = None
        try:
            journal = LevelDBStore(data / "mempool", cache_bytes=8 << 20,
                                   write_buffer_bytes=MEMPOOL_JOURNAL_WRITE_BUFFER_BYTES)
            return cls(config, home, key, genesis, executor, store, journal)
        except BaseException:
            store.close()
            if journal is not None:
                journal.close()
            raise

    def _open_analytics(self) -> EmbeddedIndexer | None:
        """The optional in-process indexer (config ``analytics.enabled``): its stats routes
        join the RPC app now, it starts following once the RPC listens."""
        cfg = self.config.analytics
        if not cfg.enabled:
            return None
        from analytics.embed import EmbeddedIndexer

        embedded = EmbeddedIndexer(self.home, cfg.db, self.config.genesis_path(self.home),
                                   batch_blocks=cfg.batch_blocks, registry=self.metrics.registry)
        embedded.attach(self.rpc.app)
        return embedded

    async def start(self) -> None:
        cfg = self.config
        try:
            await self.rpc.start()
        except OSError as exc:
            raise NodeError(f"cannot serve RPC on {cfg.rpc.host}:{cfg.rpc.port}: {exc.strerror or exc}",
                            code="port_unavailable") from exc
        try:
            await self.network.start()
        except OSError as exc:
            await self.rpc.stop()
            raise NodeError(f"cannot listen for peers on {cfg.p2p.host}:{cfg.p2p.port}: "
                            f"{exc.strerror or exc}", code="port_unavailable") from exc
        self.gossip.start(self.supervisor.spawn)
        self.blobs.start(self.supervisor.spawn)
        self.sync.start(self.supervisor.spawn)
        if self.analytics is not None:
            host = cfg.rpc.host if cfg.rpc.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
            self.analytics.start(f"http://{'[' + host + ']' if ':' in host else host}:{self.rpc.port}")
        self._started = True
        self._step("consensus start", lambda: self.replica.start(now_ms()))
        if not self.observer:
            self._watch_absent()
        log.info(
            "node %s started at height %d (%s)", self.config.name, self.store.height,
            "validator" if self.is_validator else "observer" if self.observer
            else "following: not in the validator set",
        )

    async def stop(self) -> None:
        """Stop accepting, close links, close the stores. Safe to call twice."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        for handle in (self._timer, self._inbox_timer, self._inbox_drain, self._absent_timer):
            if handle is not None:
                handle.cancel()
        if self.analytics is not None:
            await self.analytics.stop()
        with contextlib.suppress(Exception):
            await self.rpc.stop()
        await self.supervisor.stop()
        await self.sync.stop()
        await self.blobs.stop()
        await self.queries.close()
        await self.gossip.stop()
        self.proposals.stop()
        await self.network.stop()
        await self.app.close()  # no block left executing on the store in the worker
        try:
            await self.mempool.persist()  # and no journal batch left writing in a thread
        except ChainError as exc:
            log.error("mempool journal: last writes lost at stop: %s", exc.message)
        self.store.close()
        if self._journal is not None:
            self._journal.close()
        self._progress.flush(time.monotonic())
        log.info("node %s stopped at height %d", self.config.name, self.store.height)

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    def fail(self, what: str, exc: BaseException) -> None:
        """A fault of this node's own: log it as FATAL and stop the node (``serve`` then
        raises it, so ``hkchain node start`` exits non-zero with the message). The store is
        at a committed block boundary and the vote log holds every vote sent, so a restart
        once the cause is fixed is safe."""
        if self.fatal is not None or self._stopped.is_set():
            return
        self.fatal = NodeError(f"{what} failed: {describe(exc)}",
                               code="storage_fault" if is_local_fault(exc) else "local_fault")
        # The cause first: what triggered the failing write (a peer's vote, say) is context,
        # never the culprit.
        log.critical("FATAL: %s — a fault of this machine, not of any peer (it happened during "
                     "%s). The node stops: fix the cause (free disk space, check the disk), then "
                     "start it again (its store and vote log resume safely).", describe(exc),
                     what, exc_info=exc)
        self.metrics.local_faults.inc()
        task = asyncio.get_running_loop().create_task(self.stop())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- facts the RPC and p2p read -----------------------------------------------------------

    @property
    def is_validator(self) -> bool:
        return not self.observer and self._key_is_validator()

    def _key_is_validator(self) -> bool:
        vs = self.current_validators()
        return vs is not None and self.key.public_key in vs

    def current_validators(self) -> ValidatorSet | None:
        return self.store.validator_set(self.store.height + 1)

    def status(self) -> dict[str, Any]:
        head = self.store.head
        assert head is not None
        peers = [
            {"name": p.name, "public_key": p.public_key.hex(), "height": p.height,
             "direction": "out" if p.outbound else "in"}
            for p in self.network.peers.values()
        ]
        return {
            "chain_id": self.chain_id,
            "node": self.config.name,
            "public_key": self.key.public_key.hex(),
            "address": self.key.address,
            "validator": self.is_validator,
            "observer": self.observer,
            "genesis_hash": self.genesis_block.hash.hex(),
            "height": head.height,
            "latest_hash": head.hash.hex(),
            "latest_time_ms": head.header.timestamp_ms,
            "state_root": head.header.state_root.hex(),
            "view": self.replica.view,
            "validators": validators_json(self.current_validators()),
            "peers": peers,
            # Peers refused for misbehaviour right now (p2p/network.py, ``punish``).
            "banned_peers": [
                {"name": self._peer_name(key), "public_key": key.hex(), "reason": p.reason,
                 "offences": p.offences, "banned_for_ms": int(self.network.banned_for_s(key) * 1000)}
                for key, p in self.network.penalties.items() if self.network.banned_for_s(key) > 0
            ],
            "syncing": self.sync.syncing,
            # Set on a node that joined by state sync: no blocks or receipts before it.
            "snapshot_height": self.store.snapshot_height(),
            "mempool": {"txs": len(self.mempool), "bytes": self.mempool.size_bytes},
        }

    def _peer_name(self, key: bytes) -> str:
        return next((p.name for p in self.config.p2p.peers if p.public_key == key), "")

    def receipt_doc(self, receipt: Receipt, message: str | None = None) -> dict[str, Any]:
        if message is None:
            message = ""
            if receipt.error_code:
                # Made here, off chain, from the contract's current source: a receipt
                # holds no text (docs/CONTRACTS.md, "Errors").
                message = self.executor.explain_error(self.store.state(), receipt.error_code,
                                                      receipt.error_contract, receipt.error_line)
        return receipt_json(receipt, message)

    def tx_status(self, tx_hash: bytes) -> dict[str, Any]:
        doc: dict[str, Any] = {"hash": tx_hash.hex()}
        location = self.store.tx_location(tx_hash)
        if location is not None:
            height, index = location
            receipt = self.store.receipt(tx_hash)
            doc.update(status="committed", height=height, index=index,
                       receipt=self.receipt_doc(receipt) if receipt is not None else None)
            return doc
        if self.holds_tx(tx_hash):
            doc["status"] = "pending"
            return doc
        why = self.mempool.rejection(tx_hash)
        if why is not None:
            doc.update(status="expired" if why.code == "expired" else "rejected",
                       error={"code": why.code, "message": why.message})
            return doc
        doc["status"] = "unknown"
        return doc

    def account(self, address: str) -> dict[str, Any]:
        parse_address(address)
        state = self.store.state()
        nonce = self.executor.account_nonce(state, address)
        sender = self.mempool.sender_of(address)
        return {
            "address": address,
            "balance": self.executor.balance(state, address),
            "nonce": nonce,
            "pending_nonce": self.mempool.pending_nonce(sender) if sender is not None else nonce,
            "height": self.store.height,
        }

    def statement(self, address: str, cursor: str | None, limit: str | None) -> dict[str, Any]:
        parse_address(address)
        return statement(self.store, address, parse_cursor(cursor), parse_limit(limit))

    async def query(self, contract: str, method: str, args: list[Any], client: str) -> tuple[Any, int]:
        """A view call in a query worker, on a snapshot of the head (node/queries.py)."""
        result = await self.queries.call(contract, method, args, client)
        return result.value, result.height

    async def read_views(self, job: Callable[[ViewCall], T]) -> T:
        return await self.queries.run_job(job)

    async def simulate(self, stx: SignedTx, client: str = "") -> dict[str, Any]:
        """The receipt ``stx`` would get in the next block, committing nothing.

        The tx runs on a snapshot of the head state after the sender's pending txs that
        come before it (so a wallet may dry-run the tx that follows its own unconfirmed
        ones; at most MAX_PENDING_BEFORE_DRY_RUN of them run first), in a query worker under
        the bounds of a view call for ``client`` (node/queries.py), charged the gas it
        used. The signature must verify: the answer is about exactly the tx that would be
        sent.
        """
        head = self.store.head
        assert head is not None
        snapshot = self.store.state().snapshot()
        tx = stx.tx
        committed_nonce = self.executor.account_nonce(snapshot, tx.sender_address)
        before = self.mempool.pending_run(tx.sender, committed_nonce,
                                          min(tx.nonce, committed_nonce + MAX_PENDING_BEFORE_DRY_RUN))
        ctx = BlockContext(self.chain_id, head.height + 1,
                           max(now_ms(), head.header.timestamp_ms), self.key.public_key)

        messages: dict[bytes, str] = {}

        def run() -> tuple[Receipt, int]:
            stx.validate_basic()  # shape and signature
            try:
                receipts = self.executor.execute_block(snapshot, ctx, [*before, stx], messages)
            except BlockGasExceeded as exc:
                raise ValidationError(exc.message, code="block_gas_exceeded") from exc
            return receipts[-1], sum(r.gas_used for r in receipts)

        receipt = await self.queries.run_charged(client, run)
        # A dry run is off chain: it may show the failure's message as the VM made it
        # (with the values it was built from), which no receipt can hold.
        return {"height": head.height, "next_height": ctx.height,
                "pending_before": len(before),
                "receipt": self.receipt_doc(receipt, messages.get(receipt.tx_hash))}

    def evidence(self, limit: int) -> dict[str, Any]:
        """The newest ``limit`` equivocation records (node/evidence.py), newest first."""
        validators = self.current_validators()
        return {
            "count": self.evidence_book.count,
            "evidence": [r.to_json(validators) for r in self.evidence_book.newest(limit)],
        }

    def refresh_metrics(self) -> None:
        m = self.metrics
        m.height.set(self.store.height)
        m.view.set(self.replica.view)
        m.mempool_txs.set(len(self.mempool))
        m.mempool_bytes.set(self.mempool.size_bytes)
        m.inbox_txs.set(len(self.inbox))
        m.peers.set(len(self.network.peers))

    # --- txs in ------------------------------------------------------------------------------

    async def submit(self, items: Sequence[SignedTx | ChainError]) -> list[bytes | ChainError]:
        """Admit txs from a client; one answer per item, in order."""
        txs = [t for t in items if isinstance(t, SignedTx)]
        if len(txs) >= THREAD_VERIFY_MIN_TXS:
            good = await asyncio.get_running_loop().run_in_executor(None, _verify_all, txs)
        else:
            good = _verify_all(txs)
        checked: list[SignedTx | ChainError] = []
        it = iter(good)
        for t in items:
            if isinstance(t, SignedTx):
                checked.append(t if next(it) else MempoolError("tx signature does not verify",
                                                               code="bad_signature"))
            else:
                checked.append(t)
        to_add = [t for t in checked if isinstance(t, SignedTx)]
        self._adding_from_client = True  # what the mempool admits now is pushed, not relayed
        try:
            results = self.mempool.add_many(to_add, signature_checked=True) if to_add else []
        finally:
            self._adding_from_client = False
        if any(isinstance(r, bytes) for r in results):
            # Accepted means on disk: wait for the journal's fsync (shared with concurrent
            # submissions, in a worker thread) before answering.
            await self.mempool.persist()
        added = iter(results)
        out: list[bytes | ChainError] = []
        for t in checked:
            r = next(added) if isinstance(t, SignedTx) else t
            if isinstance(r, ChainError):
                self.metrics.txs_refused.labels(r.code).inc()
            else:
                self.metrics.txs_accepted.inc()
            out.append(r)
        return out

    def admit_from_peer(self, txs: list[SignedTx]) -> list[bytes]:
        """Take gossiped txs: admitted now if this node may propose soon, else held in
        the inbox (node/inbox.py); return the hashes admitted at once."""
        fresh = [t for t in txs if not self.holds_tx(t.hash)]
        if not fresh:
            return []
        if self._may_propose_soon():
            # Those held go first, so a sender's nonces reach the pool in order.
            return self._admit(self.inbox.take() + fresh)
        # The signature is checked now, as on admission: a block that carries the tx later
        # finds it checked, so its validation, on the path to this validator's vote, does
        # not wait for it.
        self._check_signatures(fresh, self._hold, "checking relayed txs")
        return []

    def holds_tx(self, tx_hash: bytes) -> bool:
        """Whether the tx is pending here: in the mempool, or held in the inbox."""
        return self.mempool.has(tx_hash) or tx_hash in self.inbox

    def pending_tx(self, tx_hash: bytes) -> SignedTx | None:
        """The body of a tx pending here (``holds_tx``)."""
        return self.mempool.get(tx_hash) or self.inbox.get(tx_hash)

    def _hold(self, txs: list[SignedTx]) -> None:
        """Put peers' txs, their signatures verified, in the inbox."""
        loop = asyncio.get_running_loop()
        now_s = loop.time()
        dropped = sum(self.inbox.add(t, now_s) for t in txs)
        if dropped:
            # Pushed out by the bounds: a proposal that names one fetches it again.
            self.metrics.inbox_dropped.inc(dropped)
        if self.inbox and self._inbox_timer is None:
            self._inbox_timer = loop.call_later(self.hold_s, self._on_inbox_timer)
        # Held txs do not end the proposer's idle wait (``replica.on_work``): anyone could
        # push valid but unpayable txs to set the view timers running. They do once
        # admitted, and at once if that proposer is down (``_held_for_a_dead_proposer``).
        if self._held_for_a_dead_proposer():
            self._step("consensus: txs held, the proposer down",
                       lambda: self.replica.on_work(now_ms()))

    def _held_for_a_dead_proposer(self) -> bool:
        """Whether the replica waits for an empty block from a proposer taken as down while
        this node holds peers' txs. No empty block can come from it, so the wait would
        only put off the view change those txs need; and the view change needs f + 1
        validators asking, while only the few that may propose soon admit a peer's tx.
        Without this, a tx sent at an idle chain whose proposer is down waited the
        empty-block interval (10 s at 64 validators). Its view goes the same way anyway."""
        r = self.replica
        return r.idle and bool(self.inbox) and r.proposer(r.view) in self._absent

    def _may_propose_soon(self) -> bool:
        """Whether this validator proposes the replica's current view, the next height's
        first, or the next view when this view's proposer is taken as down: it needs
        peers' txs admitted by then."""
        if self.observer:
            return False
        vs = self.replica.validators
        if vs is None:
            return False
        r, me = self.replica, self.key.public_key
        current = r.proposer(r.view)
        return (current == me or vs.proposer(r.height + 1, 0) == me
                # The next view's proposer, when this one is taken as down.
                or (current in self._absent and r.proposer(r.view + 1) == me))

    def _on_inbox_timer(self) -> None:
        """Admit the txs held ``hold_s`` and still not committed."""
        self._inbox_timer = None
        if self._stopped.is_set():
            return
        loop = asyncio.get_running_loop()
        self._admit(self.inbox.take(arrived_before_s=loop.time() - self.hold_s + 0.001))
        oldest_s = self.inbox.oldest_s()
        if oldest_s is not None:
            self._inbox_timer = loop.call_at(oldest_s + self.hold_s, self._on_inbox_timer)

    def _drain_inbox(self) -> None:
        """Admit every tx held: this validator may propose soon."""
        self._inbox_drain = None
        if self._stopped.is_set() or not self._may_propose_soon():
            return
        self._admit(self.inbox.take())

    def _admit(self, txs: list[SignedTx]) -> list[bytes]:
        """Admit peers' txs to the mempool; return the hashes admitted at once. Large
        batches have their signatures checked in a worker thread first
        (``_check_signatures``); what they admit is announced through the mempool's
        ``on_added``."""
        # A held tx may have come from a client meanwhile.
        fresh = [t for t in txs if not self.mempool.has(t.hash)]
        if not fresh:
            return []
        # Held txs had their signatures checked already.
        unchecked = [t for t in fresh if not self.mempool.is_verified(t)]
        if len(unchecked) < THREAD_VERIFY_MIN_TXS:
            results = self.mempool.add_many(fresh, persist=False)  # the peer keeps it
            return [r for r in results if isinstance(r, bytes)]
        self._check_signatures(
            fresh, lambda verified: self.mempool.add_many(verified, signature_checked=True, persist=False),
            "admitting relayed txs", unchecked)
        return []

    def _check_signatures(self, txs: list[SignedTx], then: Callable[[list[SignedTx]], object],
                          what: str, unchecked: list[SignedTx] | None = None) -> None:
        """Hand ``then`` the peers' txs whose signatures verify, remembered as verified:
        at once if fewer than ``THREAD_VERIFY_MIN_TXS`` still need checking, else after a
        worker thread checked them (one task per batch, not per tx). ``unchecked``: those
        of ``txs`` not yet verified, if the caller has them."""
        if unchecked is None:
            unchecked = [t for t in txs if not self.mempool.is_verified(t)]
        if len(unchecked) < THREAD_VERIFY_MIN_TXS:
            self._pass_verified(txs, unchecked, _verify_all(unchecked), then)
            return
        task = asyncio.get_running_loop().create_task(self._check_signatures_off_loop(txs, unchecked, then))
        self._watch(task, what)

    async def _check_signatures_off_loop(self, txs: list[SignedTx], unchecked: list[SignedTx],
                                         then: Callable[[list[SignedTx]], object]) -> None:
        good = await asyncio.get_running_loop().run_in_executor(None, _verify_all, unchecked)
        if not self._stopped.is_set():
            self._pass_verified(txs, unchecked, good, then)

    def _pass_verified(self, txs: list[SignedTx], unchecked: list[SignedTx], good: list[bool],
                       then: Callable[[list[SignedTx]], object]) -> None:
        bad = {t.hash for t, ok in zip(unchecked, good, strict=True) if not ok}
        if bad:
            log.warning("a peer relayed %d txs with bad signatures", len(bad))
        verified = [t for t in txs if t.hash not in bad]
        for t in verified:
            self.mempool.remember_verified(t)
        then(verified)

    def _watch(self, task: asyncio.Task[None], what: str) -> None:
        """Keep ``task`` alive until done; an error it ends with goes to the supervisor."""
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            exc = None if t.cancelled() else t.exception()
            if exc is not None:
                self.supervisor.report(what, exc)

        task.add_done_callback(done)

    def _on_txs_added(self, hashes: list[bytes]) -> None:
        # A client's tx is new to every peer: its body goes to each, to the proposer of
        # the block being gathered at once and to the others with the rest of the block's
        # wait (_push_plan). One from a peer is relayed by announcement, later, if still
        # pending (p2p/gossip.py).
        if self._adding_from_client:
            first, rest_by_s = self._push_plan()
            self.gossip.push(hashes, first=first, rest_by_s=rest_by_s)
        else:
            self.gossip.announce(hashes)
        if self.replica.idle:
            # Txs to propose: a late proposal is late again, not a wait for an empty block.
            self._step("consensus: txs to propose", lambda: self.replica.on_work(now_ms()))
        if self._paced and self._timer is not None:
            # Txs to propose: the empty-block wait shortens to the batch wait (or none,
            # once a full block is pending).
            now = now_ms()
            wake_at_ms = self._pace(now)
            self._timer.cancel()
            self._paced = wake_at_ms > now
            self._timer = asyncio.get_running_loop().call_later(max(0, wake_at_ms - now) / 1000,
                                                                self._on_tick)

    # --- consensus ---------------------------------------------------------------------------

    def _on_consensus_frame(self, peer: Peer, frame: ConsensusFrame) -> None:
        started_cpu_s = time.thread_time()
        msg = decode_message(frame.payload)  # DecodeError drops the peer
        if self._stopped.is_set():
            return
        block = getattr(msg, "block", None)
        if isinstance(block, Block):
            prime_block(block)  # the payload was canonical: hash its txs the cheap way
        if isinstance(msg, PrePrepare):
            self.metrics.proposals_received.inc()
            self.metrics.proposal_decode_cpu_seconds.inc(
                peer.last_decode_cpu_s + time.thread_time() - started_cpu_s)
        if not self._signed_by_its_sender(msg):
            # Honest nodes send only messages they signed or checked, so a forgery is the
            # fault of the link it came on, whoever it claims to be from.
            raise PeerMisbehaved(f"{type(msg).__name__} signature does not verify",
                                 code="bad_signature")
        if isinstance(msg, Prepare | Commit):
            self._collect(msg.vote)
        self._deliver(peer, msg)

    def admit_proposal(self, peer: Peer, proposal: Proposal) -> bool:
        """Whether a proposal by reference is worth rebuilding: of a height not decided
        yet and not beyond the next, by a validator of the current set, whose signature
        verifies (a forgery is the fault of the link it came on)."""
        if self._stopped.is_set() or proposal.chain_id != self.chain_id:
            return False
        if not self.store.height < proposal.height <= self.replica.height + 1:
            return False
        vs = self.replica.validators
        if vs is None or proposal.proposer not in vs:
            return False
        signed = PrePrepare.signing_bytes_of(proposal.chain_id, proposal.height, proposal.view,
                                             proposal.header.hash)
        if not self.verifier.verify(proposal.proposer, signed, proposal.signature):
            raise PeerMisbehaved("Proposal signature does not verify", code="bad_signature")
        if (proposal.height == self.replica.height and proposal.view == 0
                and proposal.proposer == vs.proposer(proposal.height, 0)):
            # The rightful proposal: it reaches the other validators too, so what this
            # node still holds of its txs need not follow (p2p/gossip.py).
            self.gossip.proposed(proposal.tx_hashes)
            self._note_proposal_arrival(len(proposal.tx_hashes))
        return True

    def _note_proposal_arrival(self, tx_count: int) -> None:
        """A rightful proposal of view 0 with ``tx_count`` txs arrived now: learn how much
        sooner than this node's estimate proposals come, so that held pushes leave before
        them (``PUSH_LEAD_MS``). Only from a block that is neither empty nor full: its
        proposer waited the batch wait after its commit, as this node's estimate has it."""
        if not 0 < tx_count < self.config.block.max_block_txs:
            return
        wait_ms = self._batch_wait_ms()
        self._proposals_early_ms.append(self._last_commit_ms + wait_ms - now_ms())
        lead_ms = max(self._proposals_early_ms) + PUSH_LEAD_MS
        self._push_lead_ms = max(PUSH_LEAD_MS, min(lead_ms, wait_ms))

    def on_rebuilt_proposal(self, peer: Peer, proposal: Proposal, block: Block, cpu_s: float) -> None:
        """A proposal by reference, rebuilt whole: on as the PRE-PREPARE it stands for."""
        if self._stopped.is_set():
            return
        self.metrics.proposals_received.inc()
        self.metrics.proposal_decode_cpu_seconds.inc(cpu_s)
        msg = PrePrepare(proposal.chain_id, proposal.height, proposal.view, block,
                         proposal.proposer, proposal.signature)
        self._deliver(peer, msg)

    def _deliver(self, peer: Peer, msg: Message) -> None:
        """A consensus message that decoded and whose signature verified, to the replica
        (a proposal's block executed in the worker first)."""
        what = f"consensus step on {type(msg).__name__} from {peer.label}"
        block = getattr(msg, "block", None)
        if isinstance(block, Block):
            if block.height == self.store.height + 1:
                # Executed in the worker first, then stepped: the loop keeps answering
                # pings and votes meanwhile (a large block takes seconds on a loaded
                # machine, past the heartbeat's deadline).
                self._watch(asyncio.ensure_future(self._step_after_execution(block, what, msg)),
                            what)
                return
        self._step(what, lambda: self.replica.on_message(msg, now_ms()))

    def _on_vote_bundle(self, peer: Peer, bundle: VoteBundle) -> None:
        """A collector's quorum: each vote is checked, and all are handled in one step as
        if they came alone, one after another."""
        if self._stopped.is_set():
            return
        msgs: list[Prepare | Commit] = []
        for vote in bundle.votes:
            msg = Prepare(vote) if vote.kind == VOTE_PREPARE else Commit(vote)
            try:
                msg.validate_basic()
            except ValidationError as exc:
                raise PeerMisbehaved(f"bundled vote: {exc}", code="malformed") from None
            # The collector checked each vote before bundling it: a forgery is its fault.
            if not self._signed_by_its_sender(msg):
                raise PeerMisbehaved("bundled vote signature does not verify", code="bad_signature")
            msgs.append(msg)
        # One replica step for the bundle: a vote stepped alone would cost the host its
        # own pass over the output and the timer, 2f + 1 times a round.
        self._step(f"consensus step on a vote bundle from {peer.label}",
                   functools.partial(self.replica.on_messages, msgs, now_ms()))

    def _collector_of(self, height: int, view: int) -> bytes | None:
        """The collector of (height, view): that view's proposer, if this node collects."""
        if not self.config.consensus.vote_collector:
            return None
        vs = self.app.validator_set(height)
        return None if vs is None else vs.proposer(height, view, self.app.proposer_of(height - 1))

    def _collect(self, vote: Vote) -> None:
        """As the collector of the vote's view: gather it; at a quorum, send the bundle."""
        if not self.config.consensus.vote_collector or vote.height <= self.store.height:
            return  # decided: every validator has or can fetch its certificate
        vs = self.app.validator_set(vote.height)
        if vs is None or self.key.public_key != vs.proposer(
                vote.height, vote.view, self.app.proposer_of(vote.height - 1)):
            return
        key = (vote.kind, vote.height, vote.view, vote.block_hash)
        if vote.validator not in vs or key in self._bundled:
            return
        votes = self._collected.get(key)
        if votes is None:
            if len(self._collected) >= MAX_COLLECTING:
                # Bounded whatever a faulty validator signs: the oldest gathering goes.
                del self._collected[next(iter(self._collected))]
            votes = self._collected[key] = {}
        votes.setdefault(vote.validator, vote)
        if len(votes) < vs.quorum:
            return
        del self._collected[key]
        self._bundled.add(key)
        bundle = VoteBundle(tuple(sorted(votes.values(), key=lambda v: v.validator)))
        self.network.broadcast(bundle)
        self.metrics.vote_bundles.inc()

    def _forget_collected(self) -> None:
        """Drop what was gathered for heights now decided."""
        h = self.store.height
        self._collected = {k: v for k, v in self._collected.items() if k[1] > h}
        self._bundled = {k for k in self._bundled if k[1] > h}

    async def _step_after_execution(self, block: Block, what: str, msg: Message) -> None:
        await self.app.execute_ahead(block)
        if not self._stopped.is_set():
            self._step(what, lambda: self.replica.on_message(msg, now_ms()))

    def _signed_by_its_sender(self, msg: Message) -> bool:
        if isinstance(msg, Prepare | Commit):
            return self.verifier.verify_vote(msg.vote)
        if isinstance(msg, PrePrepare | NewView | ViewChange):
            return self.verifier.verify(msg.sender, msg.signing_bytes(), msg.signature)
        assert isinstance(msg, Decision)  # unsigned: its certificate is checked by the replica
        return True

    def _on_tick(self) -> None:
        self._timer = None
        if self._stopped.is_set():
            return
        due = self.replica.proposal_due()
        if due is not None:
            # This tick proposes: the block is built in the worker first, so the loop keeps
            # answering pings and votes while it executes.
            self._watch(asyncio.ensure_future(self._tick_after_build(*due)), "building a block")
            return
        self._step("consensus timer", lambda: self.replica.on_tick(now_ms()))

    async def _tick_after_build(self, height: int, view: int) -> None:
        await self.app.build_ahead(height, view)
        if not self._stopped.is_set():
            self._step("consensus timer", lambda: self.replica.on_tick(now_ms()))

    def _step(self, what: str, step: Callable[[], Output]) -> None:
        """One replica step and what it asks for. Nothing raised here is the fault of the
        peer whose message it was (that message decoded and passed its shape checks): it is
        the replica, the application or the store failing under us. The replica's state
        after a half-done step is unknown, so the node stops rather than vote on it; the
        vote log and the store bring it back safely."""
        try:
            self._replica_follows_store()
            self._apply(step())
            self._note_evidence()
        except Exception as exc:
            self.fail(what, exc)

    def _note_evidence(self) -> None:
        """Keep, log and count what the replica has newly proven about a validator."""
        found = self.replica.take_evidence()
        if not found:
            return
        validators = self.current_validators()
        for e in found:
            record = EvidenceRecord.of(e, now_ms())
            if self.evidence_book.add(record, validators):
                self.metrics.equivocations.labels(record.validator.hex(), record.kind).inc()
        self.metrics.evidence_records.set(self.evidence_book.count)

    def _replica_follows_store(self) -> None:
        # Every commit path tells the replica, so this only guards an invariant.
        if self.replica.height <= self.store.height:
            log.warning("replica at %d behind the store at %d", self.replica.height, self.store.height)
            self._apply(
                self.replica.on_synced(self.store.height, now_ms(), self._last_commit())
            )

    def _last_commit(self) -> tuple[Block, CommitCertificate] | None:
        """The head block with its certificate: the replica hands it to validators still
        deciding that height (after a restart or a sync it would otherwise be lost)."""
        height = self.store.height
        block, cert = self.store.block(height), self.store.certificate(height)
        if block is None or cert is None:  # genesis has no certificate
            return None
        return block, cert

    def _apply(self, out: Output) -> None:
        """Carry out what one replica step asked for."""
        for msg in out.broadcast:
            self._broadcast(msg)
        for key, msg in out.send:
            self.network.send(key, ConsensusFrame(msg.encode()))
        if out.view_changes:
            self.metrics.view_changes.inc(out.view_changes)
        if out.sync_to_height is not None:
            self.sync.request_sync(out.sync_to_height)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._paced = False
        if out.wake_at_ms is not None:
            wake_at_ms = self._pace(out.wake_at_ms)
            self._paced = wake_at_ms > out.wake_at_ms
            delay_s = max(0.0, (wake_at_ms - now_ms()) / 1000)
            self._timer = asyncio.get_running_loop().call_later(delay_s, self._on_tick)
        if self.inbox and self._inbox_drain is None and self._may_propose_soon():
            # Our turn is near: the txs held go to the mempool first, after this
            # step (a drain admits, which may step the replica again).
            self._inbox_drain = asyncio.get_running_loop().call_soon(self._drain_inbox)
        if self.replica.idle and (len(self.mempool) or self._held_for_a_dead_proposer()):
            # A height entered with txs pending: its view timer runs without the idle wait.
            self._apply(self.replica.on_work(now_ms()))

    def _pace(self, wake_at_ms: int) -> int:
        """When to really wake the replica. The replica proposes at the first tick of a
        height; the proposer puts that tick off until ``empty_block_interval_ms`` after the
        last commit while the mempool is empty, and until ``batch_interval_ms`` after it
        while less than a full block is pending (module docstring). Never longer than half
        a view timeout while txs are pending, so no one changes view over it; with none,
        the validators wait the empty-block interval on top of the view timeout
        (``ReplicaConfig.idle_wait_ms``)."""
        if wake_at_ms > now_ms():
            return wake_at_ms
        vs = self.replica.validators
        r = self.replica
        if vs is None or r.view != 0 or vs.proposer(r.height, 0) != self.key.public_key:
            return wake_at_ms
        wait_ms = self._proposal_wait_ms()
        if wait_ms is None:
            return wake_at_ms
        return max(wake_at_ms, self._last_commit_ms + wait_ms)

    def _proposal_wait_ms(self) -> int | None:
        """How long after the last commit view 0's proposer waits to propose, given what
        this node's mempool holds; None once a full block is pending (_pace)."""
        b = self.config.block
        pending = len(self.mempool)
        if pending >= b.max_block_txs or self.mempool.size_bytes >= b.max_block_bytes:
            return None
        return self._batch_wait_ms() if pending else b.empty_block_interval_ms

    def _batch_wait_ms(self) -> int:
        """How long after the last commit view 0's proposer waits while less than a full
        block is pending."""
        b = self.config.block
        return min(b.batch_interval_ms, b.empty_block_interval_ms,
                   self.config.consensus.view_timeout_ms // 2)

    def _push_plan(self) -> tuple[bytes | None, float | None]:
        """For a client's txs just admitted: the peer that needs them at once (the proposer
        of the block being gathered, if another node) and the loop time by which the
        others do (``TxGossip.push``); (None, None) for all at once: the proposal is due
        already, or is not this node's to foresee (a later view, a proposer not linked)."""
        vs = self.replica.validators
        r = self.replica
        if vs is None or r.view != 0:
            return None, None
        wait_ms = self._proposal_wait_ms()
        if wait_ms is None:
            return None, None
        proposer = vs.proposer(r.height, 0)
        due_ms = self._last_commit_ms + wait_ms
        first: bytes | None = None
        if proposer != self.key.public_key:
            if proposer not in self.network.peers:
                return None, None
            first, due_ms = proposer, due_ms - self._push_lead_ms
        # (Proposing itself, the node sends what it holds just before the proposal.)
        now = now_ms()
        if due_ms <= now:
            return None, None
        return first, asyncio.get_running_loop().time() + (due_ms - now) / 1000

    def _broadcast(self, msg: Message) -> None:
        frame: Frame
        if isinstance(msg, PrePrepare):
            # By reference: its txs' bodies went out by gossip; those still queued to go
            # leave first, so on each link the proposal follows them.
            self.gossip.flush_pushes()
            self.proposals.keep(msg.block)
            frame = compact(msg.block, msg.chain_id, msg.height, msg.view, msg.proposer,
                            msg.signature)
        else:
            frame = ConsensusFrame(msg.encode())
        log.debug("broadcast %s h=%d", type(msg).__name__, msg.height)
        if not (isinstance(msg, Prepare | Commit) and isinstance(frame, ConsensusFrame)
                and self._send_to_collector(msg, frame)):
            data = frame.encode()
            sent_to = self.network.broadcast_bytes(data)
            if isinstance(msg, PrePrepare):
                self.metrics.proposals_sent.inc()
                self.metrics.proposal_bytes_sent.inc(len(data) * sent_to)
        # Kept for peers that connect later: the replica does not retransmit, and a
        # proposal sent before the links were up would otherwise cost a view change.
        floor = self.replica.height - 1
        self._recent = [(h, f) for h, f in self._recent if h >= floor][-MAX_RECENT_MESSAGES + 1 :]
        self._recent.append((msg.height, frame))

    def _send_to_collector(self, msg: Prepare | Commit, frame: ConsensusFrame) -> bool:
        """Send one's vote to its view's collector (gathering it oneself when one is the
        collector); False when there is no collector to send it to. Unanswered within a
        quarter of the view timeout, the vote goes to all."""
        collector = self._collector_of(msg.height, msg.view)
        if collector is None:
            return False
        if collector == self.key.public_key:
            self._collect(msg.vote)
        elif not self.network.send(collector, frame):
            return False
        asyncio.get_running_loop().call_later(self.replica.view_timeout_ms / 4000,
                                              self._vote_fallback, msg, frame)
        return True

    def _vote_fallback(self, msg: Prepare | Commit, frame: ConsensusFrame) -> None:
        """The collector did not answer: a replica still in that view sends its vote to
        all, as without a collector, rather than wait for the view to time out."""
        if self._stopped.is_set():
            return
        if self.replica.height == msg.height and self.replica.view == msg.view:
            log.info("no bundle from the collector of height %d view %d; sending the %s to all",
                     msg.height, msg.view, type(msg).__name__.upper())
            self.metrics.vote_fallbacks.inc()
            self.network.broadcast(frame)

    # --- commit ------------------------------------------------------------------------------

    def commit_block(
        self,
        block: Block,
        certificate: CommitCertificate,
        overlay: Overlay,
        receipts: list[Receipt],
        synced: bool = False,
    ) -> None:
        started = time.perf_counter()
        started_cpu_s = time.thread_time()
        height = block.height
        next_validators = self.executor.validator_set(overlay, height + 1)
        previous = self.store.validator_set(height)
        # A block that decides a validator-set change keeps the proof of the schedule
        # under its state root, for nodes joining by state sync (node/statesync.py).
        decided = self.executor.validator_set(overlay, height + 2)
        changed = decided.hash != next_validators.hash
        self.store.commit_block(block, certificate, receipts, overlay, next_validators,
                                accounts=touched_accounts(block, receipts),
                                prove_keys=(VALIDATORS_KEY,) if changed else ())
        self.mempool.remove_committed(block.txs, height)
        self.inbox.discard(stx.hash for stx in block.txs)
        in_force = previous is not None and previous.hash != next_validators.hash
        if in_force:
            self._drop_unadmitted_peers()
        self._last_commit_ms = now_ms()
        self._forget_collected()
        m = self.metrics
        elapsed_s = time.perf_counter() - started
        m.block_commit_seconds.observe(elapsed_s)
        m.block_cpu_seconds.labels("commit").inc(time.thread_time() - started_cpu_s)
        self._progress.committed(height, len(block.txs), elapsed_s * 1000, synced, time.monotonic())
        m.blocks_committed.inc()
        m.txs_committed.inc(len(block.txs))
        m.height.set(height)
        if synced:
            m.blocks_synced.inc()
        self.events.publish_block(block, receipts)
        if in_force:
            self.events.publish_validators(height, height + 1, next_validators)
        if changed:
            self.events.publish_validators(height, height + 2, decided)
        if self._started:
            self.blobs.on_block_committed(block, receipts)
            self.sync.announce_height(height)
            if synced:
                # Sync commits outside any replica step, so the replica can follow the
                # store at once: it resumes consensus at the next height.
                self._step("consensus after sync",
                           lambda: self.replica.on_synced(height, now_ms(), (block, certificate)))

    def _drop_unadmitted_peers(self) -> None:
        """The validator set changed: links of keys no longer admitted are closed (the
        handshake only checks admission when a link starts)."""
        admission = _Admission(self)
        for key, peer in list(self.network.peers.items()):
            if not admission.is_admitted(key):
                log.info("peer %s is no longer a validator or observer: disconnecting", peer.label)
                peer.close("no longer admitted")

    def _on_peer_change(self, peer: Peer) -> None:
        self.metrics.peers.set(len(self.network.peers))

    def _watch_absent(self) -> None:
        """Every second: tell the replica which validators this node has had no link to
        for ``absent_after_s`` (``ABSENT_AFTER_S``; at start, counted from then)."""
        self._absent_timer = None
        if self._stopped.is_set():
            return
        loop = asyncio.get_running_loop()
        self._update_absent(loop.time())
        self._absent_timer = loop.call_later(1.0, self._watch_absent)

    def _update_absent(self, now_s: float) -> None:
        """Take as down the validators of the replica's height with no link since
        ``absent_after_s`` ago, and tell the replica when that changes."""
        vs = self.replica.validators
        keys = frozenset(() if vs is None else vs.public_keys)
        me = self.key.public_key
        absent = []
        for key in keys:
            if key == me:
                continue
            if key in self.network.peers or key not in self._linked_s:
                self._linked_s[key] = now_s
            elif now_s - self._linked_s[key] >= self.absent_after_s:
                absent.append(key)
        for key in [k for k in self._linked_s if k not in keys]:  # no longer a validator
            del self._linked_s[key]
        found = frozenset(absent)
        if found != self._absent:
            gone, back = len(found - self._absent), len(self._absent - found)
            self._absent = found
            self.metrics.validators_absent.set(len(found))
            # A large network's links take a while to form at start: each one back is
            # a debug line, newly missing ones and the last one back are told.
            level = logging.INFO if gone or not found else logging.DEBUG
            log.log(level, "validators with no link for %.0f s: %d (%d more, %d back)",
                    self.absent_after_s, len(found), gone, back)
            self._step("absent validators", lambda: self.replica.on_absent(found, now_ms()))
            if self._held_for_a_dead_proposer():
                self._step("consensus: txs held, the proposer down",
                           lambda: self.replica.on_work(now_ms()))

    def _on_peer_connected(self, peer: Peer) -> None:
        self._on_peer_change(peer)
        if peer.public_key in self._absent and not self._stopped.is_set():
            self._update_absent(asyncio.get_running_loop().time())
        floor = self.replica.height - 1
        for h, frame in self._recent:
            if h >= floor:
                peer.send(frame)


# --- the blocking entry point -------------------------------------------------------------------


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


async def serve(home: Path, passphrase: str | None = None, observer: bool = False,
                state_sync: bool = False) -> None:
    """Run the node in ``home`` until SIGTERM/SIGINT; ``observer`` makes it follow
    without voting whatever its config says; ``state_sync`` fills an empty store from a
    snapshot first (node/statesync.py)."""
    config = NodeConfig.load(home)
    if observer:
        config = config.with_changes(observer=True)
    if state_sync:
        config = config.with_changes(state_sync=True)
    if needs_state_sync(home, config):
        await _join(home, config, passphrase)
    node = Node.open(home, config=config, passphrase=passphrase)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await node.start()
        signalled = asyncio.ensure_future(stop.wait())
        stopped = asyncio.ensure_future(node.wait_stopped())
        await asyncio.wait({signalled, stopped}, return_when=asyncio.FIRST_COMPLETED)
        signalled.cancel()
        stopped.cancel()
        if stop.is_set():
            log.info("signal received: shutting down")
    finally:
        await node.stop()
    if node.fatal is not None:
        raise node.fatal


async def _join(home: Path, config: NodeConfig, passphrase: str | None) -> None:
    """Fill the empty store from a snapshot of the peers' chain (node/statesync.py)."""
    from vm.executor import ContractExecutor

    key = PrivateKey.load(config.key_path(home), passphrase)
    genesis = load_genesis(config.genesis_path(home))
    await join_by_state_sync(home, config, key, genesis, ContractExecutor(genesis.chain_id))


def run_node(home: Path, observer: bool = False, state_sync: bool = False) -> None:
    """Blocking entry point of ``hkchain node start --home DIR``: runs until SIGTERM or
    SIGINT, then shuts down gracefully. A SIGKILL at any moment is safe: the store is at a
    committed block boundary and the mempool journal holds every accepted tx."""
    home = Path(home)
    config = NodeConfig.load(home)
    _setup_logging(config.log_level)
    passphrase = os.environ.get("HKCHAIN_KEY_PASSPHRASE")
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is installed where it builds
        runner = asyncio.run
    runner(serve(home, passphrase, observer, state_sync))
