"""The mempool: txs this node accepted and that are not committed yet.

Admission (``add``) checks, in order: chain id, size, shape, the signature (once per node:
a verified (hash, signature) pair is remembered, so block validation need not repeat it),
then the executor's state checks (nonce, expiry, fee balance) against the committed state
and the sender's pending txs. A validator admits a peer's tx once it may propose soon, or
once the tx has waited a while, and holds it until then (node/inbox.py). The
pool is bounded in count, bytes and txs per sender, and answers "mempool_full" when a
bound is hit. ``reap`` hands the proposer each sender's txs in nonce order, senders
interleaved by arrival.

Nothing accepted is lost, even on power loss: every body accepted from a client is journaled
(a small LevelDB of its own), removed when committed, and kept as a rejection record
(expired, nonce used by another tx) when dropped. Txs learnt from peers are not journaled:
the node that accepted each one has it on disk, and a node that restarts is announced every
peer's pool when its links come back (p2p/gossip.py), so journaling them would only write
each body to disk once more on every other node. Journal writes queue in memory and
``persist`` writes them in one fsynced batch in a worker thread; the RPC awaits it before
it answers 202, and submissions that arrive while one batch is being synced share the next
one (group commit: one fsync per batch of concurrent requests, not per tx, and never on
the event loop). Every journal write is synced, so no later synced write can survive a
crash that an earlier one did not. On restart ``recover`` re-admits what is still pending
and records why the rest was dropped, so a tx's status always answers.

A tx may not expire more than ``max_expiry_blocks`` after the next height (code
``expiry_too_far``): a pending tx is then dropped within that many blocks at the latest,
and the expiry heap, compacted whenever committed txs make up half of it, stays within
twice the pool.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import struct
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from core import codec
from core.crypto import address_of
from core.errors import ChainError, DecodeError, SignatureError, ValidationError
from core.state import StateReader
from core.types import MAX_TX_BYTES, SignedTx
from node.config import MempoolConfig
from storage.api import KeyValueStore
from vm.api import TxRejected

log = logging.getLogger("hkchain.mempool")

MAX_REJECTED_RECORDS = 100_000
# Head-state values kept for admission checks until the head moves (_HeadReads).
MAX_HEAD_READS = 4096
MAX_VERIFIED_CACHE = 200_000
_PENDING = b"p/"  # tx hash -> SignedTx bytes
_REJECTED = b"x/"  # seq(8) tx hash -> codec [code, message]
_U64 = struct.Struct(">Q")


class MempoolError(ChainError):
    """A tx the mempool refused. ``code`` is the client's answer: wrong_chain, too_large,
    malformed, invalid, bad_signature, bad_nonce, nonce_gap, expired, expiry_too_far,
    insufficient_fee, unknown_contract, unknown_method, mempool_full."""

    code = "rejected"


class TxChecker(Protocol):
    """The executor's admission check as the mempool uses it (vm.api.Executor)."""

    def check_tx(
        self, state: StateReader, stx: SignedTx, next_height: int, pending_nonce: int | None = None
    ) -> None: ...

    def account_nonce(self, state: StateReader, address: str) -> int: ...


class _HeadReads:
    """Values of the head state as admission reads them, kept until the next height.

    Between two commits every tx is checked against the same state, and each check reads
    the fee parameters (seven keys), the called contract's code and the busy accounts
    again, each a LevelDB lookup. The head does not change within a height (a commit
    writes the state before it moves the height), so a value read once stands until
    ``height`` moves on. Each sender's account nonce, decoded from those values, is kept
    beside them for the same reason.
    """

    __slots__ = ("_state", "_values", "height", "nonces")

    def __init__(self, height: int, state: StateReader) -> None:
        self.height = height
        self._state = state
        self._values: dict[bytes, bytes | None] = {}
        self.nonces: dict[bytes, int] = {}  # sender -> its account nonce at ``height``

    def get(self, key: bytes) -> bytes | None:
        try:
            return self._values[key]
        except KeyError:
            pass
        value = self._state.get(key)
        if len(self._values) >= MAX_HEAD_READS:
            self._values.clear()  # bounded whatever a height's txs read
        self._values[key] = value
        return value


@dataclass
class _Entry:
    stx: SignedTx
    size: int
    seq: int
    journaled: bool = False  # its body is in the journal (to delete when it leaves)


@dataclass(frozen=True)
class Rejection:
    code: str
    message: str


class Mempool:
    def __init__(
        self,
        config: MempoolConfig,
        chain_id: str,
        checker: TxChecker,
        state: Callable[[], StateReader],
        height: Callable[[], int],
        journal: KeyValueStore | None = None,
    ) -> None:
        self.config = config
        self.chain_id = chain_id
        self.checker = checker
        self._state = state
        self._height = height
        self._journal = journal
        self._entries: dict[bytes, _Entry] = {}
        self._by_sender: dict[bytes, dict[int, _Entry]] = {}
        self._sender_by_address: dict[str, bytes] = {}
        self._expiry: list[tuple[int, bytes]] = []  # heap of (expiry_height, hash)
        self._bytes = 0
        self._seq = 0
        self._reject_seq = 0
        self._head_reads: _HeadReads | None = None
        # Per sender: the first nonce at or after the account nonce with no pending tx, so
        # admitting a long run of one sender's txs is linear, not quadratic.
        self._next_free: dict[bytes, int] = {}
        self._verified: OrderedDict[bytes, bytes] = OrderedDict()  # hash -> signature
        self._rejected: OrderedDict[bytes, Rejection] = OrderedDict()
        self.on_added: list[Callable[[list[bytes]], None]] = []
        # The journal's group commit: writes queued since the last batch, how many were
        # ever queued, how many of those are synced, and the batch being written.
        self._journal_ops: list[tuple[bytes, bytes | None]] = []
        self._queued = 0
        self._synced = 0
        self._flushing: asyncio.Future[None] | None = None
        self._flush_tasks: set[asyncio.Task[None]] = set()
        self.journal_syncs = 0  # fsynced batches written (a figure for the bench)
        # Where a background journal write that failed is reported (the node stops on a
        # fault of its store); without a host, it is logged.
        self.on_background_error: Callable[[str, BaseException], None] | None = None

    # --- queries ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def has(self, tx_hash: bytes) -> bool:
        return tx_hash in self._entries

    def hashes(self) -> list[bytes]:
        """The hashes of every pending tx, in the order they were admitted."""
        return list(self._entries)

    def get(self, tx_hash: bytes) -> SignedTx | None:
        e = self._entries.get(tx_hash)
        return e.stx if e is not None else None

    def rejection(self, tx_hash: bytes) -> Rejection | None:
        return self._rejected.get(tx_hash)

    def is_verified(self, stx: SignedTx) -> bool:
        """True if this exact (tx, signature) pair passed signature verification here."""
        return self._verified.get(stx.hash) == stx.signature

    def verify_signature(self, stx: SignedTx) -> None:
        """Verify once, remember the result; raises SignatureError."""
        if self.is_verified(stx):
            return
        stx.verify_signature()
        self.remember_verified(stx)

    def remember_verified(self, stx: SignedTx) -> None:
        """Record that ``stx``'s signature verified (here, or where a block was checked)."""
        self._verified[stx.hash] = stx.signature
        if len(self._verified) > MAX_VERIFIED_CACHE:
            self._verified.popitem(last=False)

    def sender_of(self, address: str) -> bytes | None:
        """The public key of a sender with pending txs, by address."""
        return self._sender_by_address.get(address)

    def pending_nonce(self, sender: bytes) -> int:
        """The sender's next nonce counting its pending txs."""
        n = max(self._account_nonce(sender), self._next_free.get(sender, 0))
        pending = self._by_sender.get(sender)
        if pending:
            while n in pending:
                n += 1
        self._next_free[sender] = n
        return n

    def pending_run(self, sender: bytes, first: int, end: int) -> list[SignedTx]:
        """The sender's pending txs of nonces first, first + 1, … up to ``end`` (excluded)
        or the first missing nonce."""
        pending = self._by_sender.get(sender, {})
        out: list[SignedTx] = []
        for n in range(first, end):
            entry = pending.get(n)
            if entry is None:
                break
            out.append(entry.stx)
        return out

    def _account_nonce(self, sender: bytes) -> int:
        reads = self._head()
        n = reads.nonces.get(sender)
        if n is None:
            n = self.checker.account_nonce(reads, address_of(sender))
            if len(reads.nonces) >= MAX_HEAD_READS:
                reads.nonces.clear()
            reads.nonces[sender] = n
        return n

    def _head(self) -> _HeadReads:
        """The head state for admission checks, its values kept until the head moves."""
        height = self._height()
        reads = self._head_reads
        if reads is None or reads.height != height:
            reads = self._head_reads = _HeadReads(height, self._state())
        return reads

    # --- admission -----------------------------------------------------------------------

    def add(self, stx: SignedTx, *, signature_checked: bool = False, persist: bool = True) -> bytes:
        """Admit ``stx`` or raise MempoolError; returns its hash. Idempotent for a tx
        already pending."""
        hashes = self.add_many([stx], signature_checked=signature_checked, persist=persist)
        result = hashes[0]
        if isinstance(result, MempoolError):
            raise result
        return result

    def add_many(
        self, txs: Sequence[SignedTx], *, signature_checked: bool = False, persist: bool = True
    ) -> list[bytes | MempoolError]:
        """Admit each tx; one answer per tx (its hash or the error). With ``persist`` (a
        client's txs) queues every newly admitted tx for the journal: ``await persist()``
        before telling the client it is accepted. Without (txs from peers), nothing is
        journaled (module docstring)."""
        out: list[bytes | MempoolError] = []
        fresh: list[_Entry] = []
        for stx in txs:
            try:
                entry = self._admit(stx, signature_checked)
            except MempoolError as exc:
                out.append(exc)
                continue
            out.append(stx.hash)
            if entry is not None:
                fresh.append(entry)
        if fresh:
            if persist and self._journal is not None:
                self._queue_journal([(_PENDING + e.stx.hash, e.stx.encoded) for e in fresh])
                for e in fresh:
                    e.journaled = True
            hashes = [e.stx.hash for e in fresh]
            for cb in self.on_added:
                cb(hashes)
        return out

    def _admit(self, stx: SignedTx, signature_checked: bool) -> _Entry | None:
        h = stx.hash
        if h in self._entries:
            return None
        tx = stx.tx
        if tx.chain_id != self.chain_id:
            raise MempoolError(f"tx is for chain {tx.chain_id!r}", code="wrong_chain")
        size = len(stx.encoded)
        if size > MAX_TX_BYTES + 128:
            raise MempoolError(f"tx of {size} bytes exceeds {MAX_TX_BYTES}", code="too_large")
        try:
            tx.validate_basic()
            if signature_checked:
                self.remember_verified(stx)
            else:
                self.verify_signature(stx)
        except SignatureError as exc:
            raise MempoolError(exc.message, code="bad_signature") from exc
        except (ValidationError, DecodeError) as exc:
            raise MempoolError(exc.message, code=exc.code) from exc
        next_height = self._height() + 1
        if tx.expiry_height > next_height + self.config.max_expiry_blocks:
            raise MempoolError(
                f"expiry height {tx.expiry_height} is more than {self.config.max_expiry_blocks} "
                f"blocks after the next height {next_height}", code="expiry_too_far")
        pending = self._by_sender.get(tx.sender)
        if pending is not None and tx.nonce in pending:
            raise MempoolError(f"nonce {tx.nonce} is already used by a pending tx", code="bad_nonce")
        if len(self._entries) >= self.config.max_txs or self._bytes + size > self.config.max_bytes:
            raise MempoolError("mempool full; retry later", code="mempool_full")
        if pending is not None and len(pending) >= self.config.max_txs_per_sender:
            raise MempoolError(
                f"sender has {len(pending)} pending txs, the limit", code="mempool_full"
            )
        try:
            self.checker.check_tx(self._head(), stx, next_height, self.pending_nonce(tx.sender))
        except TxRejected as exc:
            raise MempoolError(exc.message, code=exc.code) from exc
        entry = _Entry(stx, size, self._seq)
        self._seq += 1
        self._entries[h] = entry
        if tx.sender not in self._by_sender:
            self._sender_by_address[address_of(tx.sender)] = tx.sender
        self._by_sender.setdefault(tx.sender, {})[tx.nonce] = entry
        heapq.heappush(self._expiry, (tx.expiry_height, h))
        self._compact_expiry()
        self._bytes += size
        self._rejected.pop(h, None)
        return entry

    def _compact_expiry(self) -> None:
        # Entries of committed txs stay in the heap until their expiry height; when they
        # are most of it, rebuild it from the pending txs. Amortised O(1) per tx, and the
        # heap stays within twice the pool whatever the expiry heights.
        if len(self._expiry) > 2 * len(self._entries) + 64:
            self._expiry = [(e.stx.tx.expiry_height, h) for h, e in self._entries.items()]
            heapq.heapify(self._expiry)

    # --- block building ------------------------------------------------------------------

    def reap(self, max_txs: int, max_bytes: int) -> list[SignedTx]:
        """Txs for the next block: per sender a run of consecutive nonces from its account
        nonce; senders interleaved by the arrival of their next tx."""
        heads: list[tuple[int, bytes, int]] = []  # (seq, sender, nonce)
        for sender, pending in self._by_sender.items():
            n = self._account_nonce(sender)
            e = pending.get(n)
            if e is not None:
                heads.append((e.seq, sender, n))
        heapq.heapify(heads)
        out: list[SignedTx] = []
        size = 0
        while heads and len(out) < max_txs:
            _seq, sender, n = heapq.heappop(heads)
            e = self._by_sender[sender][n]
            if size + e.size > max_bytes:
                break
            out.append(e.stx)
            size += e.size
            nxt = self._by_sender[sender].get(n + 1)
            if nxt is not None:
                heapq.heappush(heads, (nxt.seq, sender, n + 1))
        return out

    # --- after a commit --------------------------------------------------------------------

    def remove_committed(self, txs: Iterable[SignedTx], height: int) -> None:
        """Forget the txs of committed block ``height``; drop what can no longer commit
        (nonce used by another tx, expired) with a rejection record."""
        senders: set[bytes] = set()
        removed: list[_Entry] = []
        for stx in txs:
            senders.add(stx.tx.sender)
            if (e := self._remove(stx.hash)) is not None:
                removed.append(e)
        self._next_free.clear()
        dropped: list[tuple[bytes, Rejection]] = []
        for sender in senders:
            pending = self._by_sender.get(sender)
            if not pending:
                continue
            n = self._account_nonce(sender)
            for nonce in sorted(k for k in pending if k < n):
                h = pending[nonce].stx.hash
                removed.append(pending[nonce])
                self._remove(h)
                dropped.append((h, Rejection("bad_nonce", f"nonce {nonce} was used by another committed tx")))
        next_height = height + 1
        while self._expiry and self._expiry[0][0] < next_height:
            _exp, h = heapq.heappop(self._expiry)
            if (e := self._remove(h)) is not None:
                removed.append(e)
                dropped.append((h, Rejection("expired", f"not committed by height {_exp}")))
        self._compact_expiry()
        self._journal_update([e.stx.hash for e in removed if e.journaled], dropped)

    def drop(self, tx_hash: bytes, rejection: Rejection) -> None:
        """Remove a pending tx that cannot commit, recording why."""
        if (e := self._remove(tx_hash)) is not None:
            self._journal_update([tx_hash] if e.journaled else [], [(tx_hash, rejection)])

    def _remove(self, tx_hash: bytes) -> _Entry | None:
        e = self._entries.pop(tx_hash, None)
        if e is None:
            return None
        self._bytes -= e.size
        self._next_free.pop(e.stx.tx.sender, None)
        pending = self._by_sender.get(e.stx.tx.sender)
        if pending is not None:
            if pending.get(e.stx.tx.nonce) is e:
                del pending[e.stx.tx.nonce]
            if not pending:
                del self._by_sender[e.stx.tx.sender]
                self._sender_by_address.pop(address_of(e.stx.tx.sender), None)
        return e

    def _record_rejection(self, tx_hash: bytes, rejection: Rejection) -> None:
        self._rejected[tx_hash] = rejection
        self._rejected.move_to_end(tx_hash)
        while len(self._rejected) > MAX_REJECTED_RECORDS:
            self._rejected.popitem(last=False)

    def _journal_update(self, removed: list[bytes], dropped: list[tuple[bytes, Rejection]]) -> None:
        """Delete the ``removed`` bodies from the journal; record why each of ``dropped``
        was dropped (its body, if journaled, is among ``removed``)."""
        for h, why in dropped:
            self._record_rejection(h, why)
            log.info("dropped tx %s: %s", h.hex()[:16], why.message)
        if self._journal is None or not (removed or dropped):
            return
        ops: list[tuple[bytes, bytes | None]] = [(_PENDING + h, None) for h in removed]
        for h, why in dropped:
            ops.append((_REJECTED + _U64.pack(self._reject_seq) + h, codec.encode([why.code, why.message])))
            self._reject_seq += 1
        self._queue_journal(ops)
        self._persist_soon()

    # --- the journal's group commit ---------------------------------------------------------

    def _queue_journal(self, ops: list[tuple[bytes, bytes | None]]) -> None:
        if self._journal is not None and ops:
            self._journal_ops.extend(ops)
            self._queued += 1

    @property
    def journal_synced(self) -> bool:
        """True when every journal write queued so far is on disk."""
        return self._synced == self._queued

    def _write_journal(self, ops: list[tuple[bytes, bytes | None]]) -> None:
        assert self._journal is not None
        with self._journal.batch(sync=True) as wb:
            for key, value in ops:
                if value is None:
                    wb.delete(key)
                else:
                    wb.put(key, value)
        self.journal_syncs += 1

    def flush_journal(self) -> None:
        """Write and fsync every queued journal write now (blocking: at start-up, and in
        tests; on the loop use ``persist``). Must not run while ``persist`` is writing."""
        assert self._flushing is None, "a journal batch is being written"
        ops, upto = self._journal_ops, self._queued
        self._journal_ops = []
        if ops:
            self._write_journal(ops)
        self._synced = upto

    async def persist(self) -> None:
        """Return once every journal write queued before the call is fsynced. One batch is
        written at a time, in a worker thread; writes queued meanwhile go into the next
        batch together, so concurrent callers share one fsync. Raises StorageError if the
        journal cannot be written."""
        target = self._queued
        while self._synced < target:
            if self._flushing is None:
                self._flushing = asyncio.ensure_future(self._flush())
            await asyncio.shield(self._flushing)

    async def _flush(self) -> None:
        ops, upto = self._journal_ops, self._queued
        self._journal_ops = []
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._write_journal, ops)
        except BaseException:
            self._journal_ops[:0] = ops  # not durable: the next batch retries them
            raise
        finally:
            self._flushing = None
        self._synced = max(self._synced, upto)

    def _persist_soon(self) -> None:
        """Journal updates nobody waits for (commits, drops) go to disk in the background."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (start-up, tests): flush_journal() writes them
        task = loop.create_task(self._persist_quietly())
        self._flush_tasks.add(task)
        task.add_done_callback(self._flush_tasks.discard)

    async def _persist_quietly(self) -> None:
        try:
            await self.persist()
        except Exception as exc:
            if self.on_background_error is not None:
                self.on_background_error("mempool journal write", exc)
            else:
                log.exception("mempool journal: background write failed")

    # --- restart -------------------------------------------------------------------------

    def recover(self, is_committed: Callable[[bytes], bool]) -> tuple[int, int]:
        """Reload the journal after a restart: re-admit pending txs that can still commit,
        record why the others were dropped. Returns (re-admitted, dropped)."""
        if self._journal is None:
            return 0, 0
        rejected = list(self._journal.iterate(_REJECTED))
        for key, value in rejected[-MAX_REJECTED_RECORDS:]:
            try:
                code, message = codec.decode(value)
                self._rejected[key[len(_REJECTED) + 8 :]] = Rejection(str(code), str(message))
            except (DecodeError, ValueError, TypeError):
                continue
        if rejected:
            self._reject_seq = _U64.unpack(rejected[-1][0][len(_REJECTED) : len(_REJECTED) + 8])[0] + 1
        if len(rejected) > MAX_REJECTED_RECORDS:
            self._queue_journal([(key, None) for key, _ in rejected[:-MAX_REJECTED_RECORDS]])
        stored: list[SignedTx] = []
        gone: list[bytes] = []
        for key, value in list(self._journal.iterate(_PENDING)):
            h = key[len(_PENDING) :]
            try:
                stx = SignedTx.decode(value)
            except (DecodeError, ValidationError):
                gone.append(h)
                continue
            if is_committed(h):
                gone.append(h)
            else:
                stored.append(stx)
        # Nonce order per sender, so each re-admission sees its predecessors pending.
        stored.sort(key=lambda s: (s.tx.sender, s.tx.nonce))
        readmitted = 0
        dropped: list[tuple[bytes, Rejection]] = []
        for stx in stored:
            try:
                # Our own journal: these signatures were verified before they were written.
                self.add(stx, signature_checked=True, persist=False)
                self._entries[stx.hash].journaled = True
                readmitted += 1
            except MempoolError as exc:
                dropped.append((stx.hash, Rejection(exc.code, exc.message)))
        self._journal_update(gone + [h for h, _ in dropped], dropped)
        self.flush_journal()
        return readmitted, len(dropped)
