"""The indexer: follows a node's committed blocks into the analytics database.

Each page of blocks from the node is verified before anything of it is written: every
block's certificate must carry a quorum of the validator set in force at its height
(core/verify.py, the same check as ``hkchain block --verify``), its prev_hash must be the
hash of the block before, and its receipts must hash to its receipts_root. The set in
force starts as the genesis file's validators; when a header names another set, the
indexer reads the validator schedule from the state of the block before with a state
proof, checked against that block's certified state root.

A page is written in one database transaction together with the cursor (the last height
and hash written), so after a crash, ``kill -9`` included, the indexer resumes at the
cursor with nothing lost and nothing written twice. Two indexers on one database cannot
both advance the cursor: the update names the height it moves from.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.engine import Connection, Engine

from analytics import schema as s
from analytics.errors import ChainMismatch, DatabaseError, SourceError, VerificationError
from analytics.project import BatchWriter, Cache, VerifiedRecord
from analytics.source import VALIDATORS_KEY, ChainSource
from core import codec
from core.errors import ChainError
from core.types import Receipt, SignedTx, Validator, ValidatorSet
from core.verify import verify_block, verify_receipts
from storage.state import StateProof

log = logging.getLogger("hkchain.analytics")

DEFAULT_BATCH_BLOCKS = 256
DEFAULT_POLL_MS = 2_000
# Test hook: hold the Nth batch's transaction open after its rows are written (print a
# line to stderr, then wait for a line on stdin), so a test can kill -9 the indexer with a
# batch half done. Unset in normal runs.
HOLD_BATCH_ENV = "HKCHAIN_INDEX_HOLD_BATCH"


class IndexerMetrics:
    """The indexer's Prometheus series (on the node's registry when run in process)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry(auto_describe=True)
        self.height = Gauge("hkchain_indexer_height", "Last block height written to the analytics database",
                            registry=r)
        self.head = Gauge("hkchain_indexer_node_height", "Head height of the node the indexer follows",
                          registry=r)
        self.lag = Gauge("hkchain_indexer_lag_blocks", "Blocks committed on the node but not yet indexed",
                         registry=r)
        self.rows = Counter("hkchain_indexer_rows", "Rows written by the indexer", registry=r)
        self.errors = Counter("hkchain_indexer_errors", "Failed indexing rounds", ["code"], registry=r)


@dataclass
class Cursor:
    chain_id: str
    genesis_hash: str
    height: int
    block_hash: str
    state_root: str = ""


@dataclass
class Schedule:
    """Validator sets by the height they take effect at."""

    entries: list[tuple[int, ValidatorSet]] = field(default_factory=list)

    def at(self, height: int) -> ValidatorSet:
        chosen = self.entries[0][1]
        for eff, vs in self.entries:
            if eff <= height:
                chosen = vs
        return chosen

    def add(self, eff: int, vs: ValidatorSet) -> bool:
        if any(e == eff and v.hash == vs.hash for e, v in self.entries):
            return False
        self.entries = sorted([(e, v) for e, v in self.entries if e != eff] + [(eff, vs)],
                              key=lambda x: x[0])
        return True


def _members_json(vs: ValidatorSet) -> str:
    return json.dumps([{"public_key": v.public_key.hex(), "name": v.name} for v in vs.validators])


def _set_from_json(text: str) -> ValidatorSet:
    return ValidatorSet(tuple(Validator(bytes.fromhex(m["public_key"]), m["name"]) for m in json.loads(text)))


def _check(doc: dict[str, Any], vs: ValidatorSet) -> tuple[int, list[Receipt]]:
    """verify_block and verify_receipts of one block: (signers, receipts)."""
    checked = verify_block(doc, vs)
    return checked.signers, verify_receipts(doc, doc.get("receipts", []))


def genesis_residents(genesis: dict[str, Any]) -> list[tuple[str, str]]:
    """Residents granted in the genesis file (attributed to the committee "genesis")."""
    out: list[tuple[str, str]] = []
    for g in genesis.get("roles", []):
        if isinstance(g, dict) and g.get("role") == "resident" and isinstance(g.get("address"), str):
            out.append((g["address"], "genesis"))
    return out


class Indexer:
    """Follows ``source`` into ``engine``'s database. Blocking database work runs in a
    thread so the indexer can share an event loop with a node."""

    def __init__(self, engine: Engine, source: ChainSource, genesis: dict[str, Any],
                 trusted: ValidatorSet, *, batch_blocks: int = DEFAULT_BATCH_BLOCKS,
                 poll_ms: int = DEFAULT_POLL_MS, metrics: IndexerMetrics | None = None,
                 on_batch: Callable[[int, int, int], None] | None = None) -> None:
        self.engine = engine
        self.source = source
        self.genesis = genesis
        self.chain_id = str(genesis.get("chain_id", ""))
        self.schedule = Schedule([(0, trusted)])
        self.batch_blocks = batch_blocks
        self.poll_ms = poll_ms
        self.metrics = metrics or IndexerMetrics()
        self.on_batch = on_batch  # (height written, head, rows) after each batch
        self.cursor: Cursor | None = None
        self._batches = 0
        self._hold = int(os.environ.get(HOLD_BATCH_ENV, "0") or 0)
        self._new_sets: list[tuple[int, ValidatorSet]] = []
        self._cache = Cache.empty()

    # --- start ----------------------------------------------------------------------------

    def open(self) -> Cursor | None:
        """Migrate the database and load the cursor and learnt validator sets."""
        s.migrate(self.engine)
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(s.hk_cursor).where(s.hk_cursor.c.id == 1)).first()
            for eff, _h, members in conn.execute(sa.select(
                    s.hk_validator_sets.c.effective_height, s.hk_validator_sets.c.set_hash,
                    s.hk_validator_sets.c.members)):
                self.schedule.add(int(eff), _set_from_json(members))
            if row is not None:
                root = conn.execute(sa.select(s.blocks.c.state_root).where(s.blocks.c.height == row.height)).scalar()
                self.cursor = Cursor(row.chain_id, row.genesis_hash, int(row.height), row.block_hash, root or "")
        if self.cursor is not None and self.cursor.chain_id != self.chain_id:
            raise ChainMismatch(f"the database indexes chain {self.cursor.chain_id!r}, "
                                f"the genesis file is of {self.chain_id!r}")
        if self.cursor is not None:
            self.metrics.height.set(self.cursor.height)
        return self.cursor

    async def check_node(self) -> int:
        """The node's head; ChainMismatch if it serves another chain than the database."""
        st = await self.source.status()
        if st.get("chain_id") != self.chain_id:
            raise ChainMismatch(f"the node serves chain {st.get('chain_id')!r}, not {self.chain_id!r}")
        if self.cursor is not None and st.get("genesis_hash") != self.cursor.genesis_hash:
            raise ChainMismatch("the node's genesis differs from the one this database indexed")
        head = st.get("height")
        if type(head) is not int:
            raise SourceError("the node's status has no height", code="bad_answer")
        return head

    # --- verification -------------------------------------------------------------------------

    async def _validators_for(self, doc: dict[str, Any], prev_root: str) -> ValidatorSet:
        height = int(doc["header"]["height"])
        named = str(doc["header"].get("validator_set_hash", ""))
        vs = self.schedule.at(height)
        if vs.hash.hex() == named:
            return vs
        # Another set: read the schedule from the state after block height-1, which the
        # certificate of that block (already verified) covers through its state_root.
        if not prev_root:
            raise VerificationError(f"block {height} names an unknown validator set and the "
                                    "state root before it is not known")
        try:
            ans = await self.source.proof(VALIDATORS_KEY, height - 1)
            value = None if ans.get("value") is None else bytes.fromhex(str(ans["value"]))
            proof = StateProof.from_value(codec.decode(bytes.fromhex(str(ans["proof_encoded"]))))
        except SourceError as exc:
            raise VerificationError(f"block {height} names a new validator set, and its schedule "
                                    f"cannot be read from the node: {exc.message}") from None
        except (KeyError, TypeError, ValueError, ChainError) as exc:
            raise VerificationError(f"the node's proof of the validator schedule is malformed: {exc}") from None
        if value is None or not proof.verify(bytes.fromhex(prev_root), VALIDATORS_KEY, value):
            raise VerificationError(f"the validator schedule before block {height} does not verify "
                                    "against the certified state root")
        try:
            schedule = codec.decode(value)
            learnt = [(int(eff), ValidatorSet(tuple(Validator(bytes(pk), str(name)) for pk, name in members)))
                      for eff, members in schedule]
        except (TypeError, ValueError, ChainError) as exc:
            raise VerificationError(f"malformed validator schedule: {exc}") from None
        for eff, new in learnt:
            self.schedule.add(eff, new)
        self._new_sets.extend(learnt)
        vs = self.schedule.at(height)
        if vs.hash.hex() != named:
            raise VerificationError(f"block {height} names a validator set the chain's schedule does not hold")
        return vs

    async def verify_page(self, docs: list[dict[str, Any]], cursor: Cursor | None) -> list[VerifiedRecord]:
        out: list[VerifiedRecord] = []
        prev_hash = cursor.block_hash if cursor else None
        prev_root = cursor.state_root if cursor else ""
        expected = cursor.height + 1 if cursor else 0
        for doc in docs:
            try:
                header = doc["header"]
                height = int(doc["height"])
                if height != expected or int(header["height"]) != height:
                    raise VerificationError(f"expected block {expected}, the node sent {height}")
                if header["chain_id"] != self.chain_id:
                    raise VerificationError(f"block {height} is of chain {header['chain_id']!r}")
                if height == 0:
                    # Genesis has no certificate; block 1's certified prev_hash covers it.
                    if doc["txs"]:
                        raise VerificationError("block 0 (genesis) carries txs")
                    receipts: list[Receipt] = []
                    signers = 0
                else:
                    if header["prev_hash"] != prev_hash:
                        raise VerificationError(f"block {height} does not follow the block before it")
                    vs = await self._validators_for(doc, prev_root)
                    # Signatures and hashes off the event loop (it may be a node's).
                    signers, receipts = await asyncio.to_thread(_check, doc, vs)
                txs = [SignedTx.decode(bytes.fromhex(t["encoded"])) for t in doc["txs"]]
            except VerificationError:
                raise
            except ChainError as exc:
                raise VerificationError(f"block {doc.get('height')}: {exc.message}") from None
            except (KeyError, TypeError, ValueError) as exc:
                raise VerificationError(f"block {doc.get('height')}: malformed: {exc}") from None
            out.append(VerifiedRecord(
                height=height, block_hash=str(doc["hash"]), state_root=str(header["state_root"]),
                timestamp_ms=int(header["timestamp_ms"]), proposer=str(header["proposer"]),
                view=int(header["view"]), signers=signers, txs=txs, receipts=receipts))
            prev_hash, prev_root, expected = str(doc["hash"]), str(header["state_root"]), height + 1
        return out

    # --- writing --------------------------------------------------------------------------------

    def write_batch(self, records: list[VerifiedRecord], genesis_hash: str) -> int:
        """One transaction: the records' rows, new validator sets and the cursor. Rows written."""
        if not records:
            return 0
        old = self.cursor
        last = records[-1]
        try:
            with self.engine.begin() as conn:
                w = BatchWriter(conn, self._cache, first_ts_ms=min(r.timestamp_ms for r in records))
                if old is None:
                    w.seed_residents(genesis_residents(self.genesis))
                for r in records:
                    w.write_block(r)
                rows = w.flush()
                for eff, vs in self._new_sets:
                    self._save_set(conn, eff, vs)
                self._move_cursor(conn, old, last, genesis_hash)
                self._batches += 1
                if self._hold and self._batches == self._hold:
                    print(f"holding batch {self._batches} at height {last.height}", file=sys.stderr, flush=True)
                    sys.stdin.readline()
        except sa.exc.IntegrityError as exc:
            self._cache.clear()  # it may hold what the rollback undid
            raise DatabaseError(f"the batch up to block {last.height} clashes with rows already "
                                f"written (another indexer on this database?): {exc.orig}") from None
        except sa.exc.OperationalError as exc:
            self._cache.clear()
            raise DatabaseError(f"database error writing up to block {last.height}: {exc.orig}") from None
        except BaseException:
            self._cache.clear()
            raise
        self._new_sets = []
        self.cursor = Cursor(self.chain_id, genesis_hash, last.height, last.block_hash, last.state_root)
        return rows

    def _save_set(self, conn: Connection, eff: int, vs: ValidatorSet) -> None:
        t = s.hk_validator_sets
        conn.execute(sa.delete(t).where(t.c.effective_height == eff))
        conn.execute(sa.insert(t).values(effective_height=eff, set_hash=vs.hash.hex(), members=_members_json(vs)))

    def _move_cursor(self, conn: Connection, old: Cursor | None, last: VerifiedRecord, genesis_hash: str) -> None:
        c = s.hk_cursor
        values = {"height": last.height, "block_hash": last.block_hash, "updated_ms": int(time.time() * 1000)}
        if old is None:
            conn.execute(sa.insert(c).values(id=1, chain_id=self.chain_id, genesis_hash=genesis_hash, **values))
            return
        moved = conn.execute(sa.update(c).where(c.c.id == 1, c.c.height == old.height).values(**values))
        if moved.rowcount != 1:
            raise DatabaseError("the cursor moved under this indexer: another indexer writes this database",
                                code="concurrent_indexer")

    # --- the loop ---------------------------------------------------------------------------------

    async def step(self) -> tuple[int, int]:
        """Fetch, verify and write one page; (height written, node head)."""
        self._new_sets = []
        start = self.cursor.height + 1 if self.cursor else 0
        head, docs = await self.source.blocks(start, self.batch_blocks)
        self.metrics.head.set(head)
        if not docs:
            self.metrics.lag.set(max(0, head - (self.cursor.height if self.cursor else -1)))
            if start <= head:
                raise SourceError(f"the node's head is {head} but it serves no block {start} "
                                  "(pruned?): index from a node that keeps every block",
                                  code="block_unavailable")
            return (self.cursor.height if self.cursor else -1), head
        records = await self.verify_page(docs, self.cursor)
        genesis_hash = self.cursor.genesis_hash if self.cursor else str(docs[0]["hash"])
        rows = await asyncio.to_thread(self.write_batch, records, genesis_hash)
        assert self.cursor is not None
        self.metrics.rows.inc(rows)
        self.metrics.height.set(self.cursor.height)
        self.metrics.lag.set(max(0, head - self.cursor.height))
        if self.on_batch is not None:
            self.on_batch(self.cursor.height, head, rows)
        return self.cursor.height, head

    async def catch_up(self) -> int:
        """Index up to the node's head as it was when asked; the height reached."""
        if self.cursor is None:
            await asyncio.to_thread(self.open)
        target = await self.check_node()
        height = self.cursor.height if self.cursor else -1
        while height < target:
            height, _ = await self.step()
        return height

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the node until ``stop`` is set; errors are logged, counted and retried."""
        await asyncio.to_thread(self.open)
        await self.check_node()
        while not stop.is_set():
            try:
                height, head = await self.step()
                if height >= head:
                    await self.source.wait_for_block(height, self.poll_ms)
            except (SourceError, DatabaseError) as exc:
                self.metrics.errors.labels(exc.code).inc()
                log.warning("indexer: %s", exc.message)
                await asyncio.sleep(self.poll_ms / 1000)
            except VerificationError as exc:
                # A node that serves unverifiable blocks is not followed further: stop and say why.
                self.metrics.errors.labels(exc.code).inc()
                log.error("indexer stopped: %s", exc.message)
                raise
