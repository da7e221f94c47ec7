"""ChainStore: blocks, certificates, receipts, tx index, validator sets and state.

``commit_block`` checks the block against the head (height, parent hash, certificate,
receipts, tx root, state root) before anything is written, then writes everything of
the block in ONE synced WriteBatch, so a crash leaves the store at a block boundary and
``open`` resumes at the last committed head. Genesis is height 0 with no certificate;
its ``next_validators`` is also recorded as the set of height 0 when the genesis header
names it (validator_set_hash).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from typing import TypeVar

from core import codec
from core.errors import DecodeError
from core.types import (
    Block,
    CommitCertificate,
    Receipt,
    Record,
    ValidatorSet,
    receipts_root,
    tx_root,
)
from storage import packing, schema
from storage.api import KeyValueStore, StateOverlay
from storage.errors import (
    BlockMismatch,
    CorruptStore,
    StateRootMismatch,
    StorageError,
    WrongHeight,
)
from storage.kv import MemoryStore
from storage.state import (
    DEFAULT_CACHE_DEPTH,
    DEFAULT_KEEP_HEIGHTS,
    Overlay,
    StateProof,
    StateStore,
)

_R = TypeVar("_R", bound=Record)
_PREIMAGE_BATCH = 10_000


def backfill_preimages(kv: KeyValueStore) -> None:
    """Index every key of the head state by its hash (stores made before the index, or a
    fresh one): state sync serves keys, and the tree's leaves hold only their hashes."""
    import hashlib

    prefix = schema.STATE_VALUE
    items: list[bytes] = []

    def flush() -> None:
        with kv.batch(sync=False) as wb:
            for key in items:
                wb.put(schema.state_preimage_key(hashlib.sha256(key).digest()), key)
        items.clear()

    for k, _ in kv.iterate(prefix):
        items.append(k[len(prefix):])
        if len(items) >= _PREIMAGE_BATCH:
            flush()
    flush()
    kv.put(schema.META_PREIMAGES, b"\x01", sync=True)


def _same_as(data: bytes, height: int) -> int:
    if len(data) != 9:
        raise CorruptStore(f"validator set entry of {height} is malformed")
    full = schema.from_be64(data[1:])
    if full >= height:
        raise CorruptStore(f"validator set entry of {height} points forward")
    return full


class ChainStore:
    """The node's committed chain on one KeyValueStore (LevelDB via ``open``)."""

    def __init__(
        self,
        kv: KeyValueStore,
        *,
        keep_heights: int | None = DEFAULT_KEEP_HEIGHTS,
        cache_depth: int = DEFAULT_CACHE_DEPTH,
    ) -> None:
        schema.check_schema(kv)
        self.kv = kv
        self._lock = threading.Lock()
        self._state = StateStore(kv, keep_heights=keep_heights, cache_depth=cache_depth)
        self._head: Block | None = None
        # The last validator set decoded, with its encoding: every height's consensus asks
        # for it a few times, and at n = 212 a decode costs ~0.4 ms. Sets are immutable
        # records, so sharing one is safe; a different encoding is simply decoded anew.
        self._valset_seen: tuple[bytes, ValidatorSet] | None = None
        self._accounts_from_known = kv.get(schema.META_ACCOUNTS_FROM) is not None
        if kv.get(schema.META_PREIMAGES) is None:
            backfill_preimages(kv)
        head = kv.get(schema.META_HEAD)
        if head is not None:
            height = schema.from_be64(head)
            block = self.block(height)
            if block is None:
                raise CorruptStore(f"head block {height} is missing")
            self._state.load(height)
            if self._state.root != block.header.state_root:
                raise CorruptStore(f"state tree root of height {height} differs from its header")
            self._head = block

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        keep_heights: int | None = DEFAULT_KEEP_HEIGHTS,
        cache_depth: int = DEFAULT_CACHE_DEPTH,
    ) -> ChainStore:
        """Open (or create) the LevelDB store in directory ``path``."""
        from storage.leveldb import LevelDBStore

        kv = LevelDBStore(path)
        try:
            return cls(kv, keep_heights=keep_heights, cache_depth=cache_depth)
        except BaseException:
            kv.close()
            raise

    @classmethod
    def in_memory(cls, *, keep_heights: int | None = DEFAULT_KEEP_HEIGHTS) -> ChainStore:
        return cls(MemoryStore(), keep_heights=keep_heights)

    # --- head and state ----------------------------------------------------------------

    @property
    def height(self) -> int:
        return -1 if self._head is None else self._head.header.height

    @property
    def head(self) -> Block | None:
        return self._head

    @property
    def state_root(self) -> bytes:
        return self._state.root

    def state(self) -> StateStore:
        return self._state

    def overlay(self) -> Overlay:
        return self._state.overlay()

    def prove(self, key: bytes, height: int | None = None) -> tuple[bytes | None, StateProof]:
        return self._state.prove(key, height)

    # --- commit -------------------------------------------------------------------------

    def commit_block(
        self,
        block: Block,
        certificate: CommitCertificate | None,
        receipts: list[Receipt],
        state: StateOverlay,
        next_validators: ValidatorSet,
        accounts: Sequence[tuple[str, int]] = (),
        prove_keys: Sequence[bytes] = (),
    ) -> None:
        """See storage.api.ChainStore. ``prove_keys``: state keys whose value and proof
        under this block's state root are kept with it (``proofs_at``), in the same batch."""
        with self._lock:
            header = block.header
            height = header.height
            self._check_block(block, certificate, receipts)
            if not isinstance(state, Overlay) or state.store is not self._state:
                raise StorageError("state overlay does not belong to this store")
            update = state.update()
            if update.root != header.state_root:
                raise StateRootMismatch(
                    f"block {height}: state changes give root {update.root.hex()}, "
                    f"header says {header.state_root.hex()}"
                )
            with self.kv.batch(sync=True) as wb:
                wb.put(schema.block_key(height), packing.pack_block(block.encode()))
                wb.put(schema.block_hash_key(block.hash), schema.be64(height))
                if certificate is not None:
                    wb.put(schema.certificate_key(height), certificate.encode())
                if receipts:
                    wb.put(schema.receipts_key(height),
                           packing.pack_receipts([r.encode() for r in receipts],
                                                 [t.hash for t in block.txs]))
                for index, tx in enumerate(block.txs):
                    wb.put(schema.tx_index_key(tx.hash), schema.encode_tx_location(height, index))
                for account, index in accounts:
                    if not 0 <= index < len(block.txs):
                        raise StorageError(f"account history: block {height} has no tx {index}")
                    wb.put(schema.account_tx_key(account, height, index), b"")
                if not self._accounts_from_known:
                    # The first block this store indexes: the history starts here.
                    wb.put(schema.META_ACCOUNTS_FROM, schema.be64(height))
                validators = next_validators.encode()
                wb.put(schema.validators_key(height + 1), self._valset_value(height, validators))
                if height == 0 and next_validators.hash == header.validator_set_hash:
                    wb.put(schema.validators_key(0), validators)
                self._state.stage(update, wb, height)
                for key in prove_keys:
                    value, proof = self._state.tree.prove(update.root_ref, key, update.new_nodes)
                    if value is not None:
                        wb.put(schema.kept_proof_key(height, key),
                               codec.encode([value, proof.to_value()]))
                wb.put(schema.META_HEAD, schema.be64(height))
            self._state.committed(update, height)
            self._head = block
            self._accounts_from_known = True

    def _check_block(
        self, block: Block, certificate: CommitCertificate | None, receipts: list[Receipt]
    ) -> None:
        header = block.header
        height = header.height
        if height != self.height + 1:
            raise WrongHeight(f"block height {height}, expected {self.height + 1}")
        if self._head is not None:
            if header.prev_hash != self._head.hash:
                raise BlockMismatch(f"block {height} does not extend the head")
            if header.chain_id != self._head.header.chain_id:
                raise BlockMismatch(f"block {height} is of another chain")
        if height == 0:
            if certificate is not None:
                raise BlockMismatch("genesis is committed without a certificate")
        elif (
            certificate is None
            or certificate.height != height
            or certificate.block_hash != block.hash
            or certificate.chain_id != header.chain_id
        ):
            raise BlockMismatch(f"block {height}: certificate missing or for another block")
        if len(receipts) != len(block.txs) or any(
            r.tx_hash != t.hash for r, t in zip(receipts, block.txs, strict=True)
        ):
            raise BlockMismatch(f"block {height}: receipts do not match its txs")
        if receipts_root(receipts) != header.receipts_root:
            raise BlockMismatch(f"block {height}: receipts_root differs from the receipts")
        if tx_root(block.txs) != header.tx_root:
            raise BlockMismatch(f"block {height}: tx_root differs from the txs")

    # --- reads --------------------------------------------------------------------------

    def _decode(self, cls: type[_R], data: bytes | None) -> _R | None:
        if data is None:
            return None
        try:
            return cls.decode(data)
        except DecodeError as exc:
            raise CorruptStore(f"stored {cls.__name__} does not decode: {exc}") from exc

    def block(self, height: int) -> Block | None:
        if not 0 <= height <= schema.MAX_HEIGHT:
            return None
        if self._head is not None and height == self._head.header.height:
            return self._head
        data = self.kv.get(schema.block_key(height))
        if data is None:
            return None
        try:
            encoded = packing.unpack_block(data)
        except DecodeError as exc:
            raise CorruptStore(f"stored block {height} does not unpack: {exc}") from exc
        return self._decode(Block, encoded)

    def block_by_hash(self, block_hash: bytes) -> Block | None:
        data = self.kv.get(schema.block_hash_key(block_hash))
        return None if data is None else self.block(schema.from_be64(data))

    def certificate(self, height: int) -> CommitCertificate | None:
        if not 0 <= height <= schema.MAX_HEIGHT:
            return None
        return self._decode(CommitCertificate, self.kv.get(schema.certificate_key(height)))

    def receipts(self, height: int) -> list[Receipt]:
        if not 0 <= height <= schema.MAX_HEIGHT:
            return []
        packed = self.kv.get(schema.receipts_key(height))
        if packed is not None:
            try:
                hashes = None
                if packing.without_hashes(packed):
                    block = self.block(height)
                    if block is None:
                        raise DecodeError("their block is missing")
                    hashes = [t.hash for t in block.txs]
                encodings = packing.unpack_receipts(packed, hashes)
            except DecodeError as exc:
                raise CorruptStore(f"stored receipts of {height} do not unpack: {exc}") from exc
        else:  # layout 2: one value per receipt
            encodings = [data for _, data in self.kv.iterate(schema.receipts_prefix(height))]
        out = []
        for data in encodings:
            receipt = self._decode(Receipt, data)
            assert receipt is not None
            out.append(receipt)
        return out

    def tx_location(self, tx_hash: bytes) -> tuple[int, int] | None:
        data = self.kv.get(schema.tx_index_key(tx_hash))
        return None if data is None else schema.decode_tx_location(data)

    def receipt(self, tx_hash: bytes) -> Receipt | None:
        location = self.tx_location(tx_hash)
        if location is None:
            return None
        height, index = location
        packed = self.kv.get(schema.receipts_key(height))
        if packed is None:  # layout 2, or a snapshot's own block (kept without receipts)
            return self._decode(Receipt, self.kv.get(schema.receipt_key(height, index)))
        try:
            data = packing.unpack_receipt(packed, index, tx_hash)
        except DecodeError as exc:
            raise CorruptStore(f"stored receipts of {height} do not unpack: {exc}") from exc
        return self._decode(Receipt, data)

    def account_txs(
        self, account: str, before: tuple[int, int] | None = None, limit: int = 20
    ) -> list[tuple[int, int]]:
        prefix = schema.account_prefix(account)
        start = None
        if before is not None:
            h, i = before
            if h <= 0 and i <= 0:
                return []
            # The greatest key strictly below (h, i): keys <= start, in reverse.
            below = (h, i - 1) if i > 0 else (h - 1, 0xFFFFFFFF)
            start = prefix + schema.encode_tx_location(*below)
        out = []
        for key, _ in self.kv.iterate(prefix, start=start, reverse=True):
            out.append(schema.decode_tx_location(key[len(prefix):]))
            if len(out) >= limit:
                break
        return out

    def kept_proofs(self, from_height: int, key: bytes) -> Iterator[tuple[int, bytes, StateProof]]:
        """(height, value, proof) of ``key`` kept by commits with ``prove_keys``, from
        ``from_height`` on, in height order."""
        prefix = schema.KEPT_PROOF
        for k, data in self.kv.iterate(prefix, start=schema.kept_proof_key(from_height, b"")):
            height = schema.from_be64(k[len(prefix) : len(prefix) + 8])
            if k[len(prefix) + 8 :] != key:
                continue
            try:
                value, proof = codec.decode(data)
                yield height, value, StateProof.from_value(proof)
            except (DecodeError, TypeError, ValueError) as exc:
                raise CorruptStore(f"kept proof of height {height} does not decode: {exc}") from exc

    def snapshot_height(self) -> int | None:
        """The height this store started from by state sync (None: it holds every block).
        Blocks, receipts and txs between genesis and it were never fetched; its own block
        is kept without receipts."""
        data = self.kv.get(schema.META_SNAPSHOT)
        return None if data is None else schema.from_be64(data)

    def account_history_from(self) -> int | None:
        data = self.kv.get(schema.META_ACCOUNTS_FROM)
        return None if data is None else schema.from_be64(data)

    def validator_set(self, height: int) -> ValidatorSet | None:
        if not 0 <= height <= schema.MAX_HEIGHT:
            return None
        data = self.kv.get(schema.validators_key(height))
        if data is not None and data[:1] == packing.MARK_SAME:
            data = self.kv.get(schema.validators_key(_same_as(data, height)))
            if data is None or data[:1] == packing.MARK_SAME:
                raise CorruptStore(f"validator set of {height} names a missing set")
        if data is None:
            return None
        seen = self._valset_seen  # one read: another thread may replace it meanwhile
        if seen is not None and seen[0] == data:
            return seen[1]
        vs = self._decode(ValidatorSet, data)
        assert vs is not None
        self._valset_seen = (data, vs)
        return vs

    def _valset_value(self, height: int, encoded: bytes) -> bytes:
        """What to store as the set certifying ``height`` + 1: the encoding, or, when it is
        the set that certifies ``height``, the height whose entry holds it (the set
        changes rarely, and at n = 212 it is 9 KiB a height)."""
        data = self.kv.get(schema.validators_key(height))
        if data is None:
            return encoded
        full_height = height
        if data[:1] == packing.MARK_SAME:
            full_height = _same_as(data, height)
            data = self.kv.get(schema.validators_key(full_height))
        if data != encoded:
            return encoded
        return packing.MARK_SAME + schema.be64(full_height)

    def close(self) -> None:
        with self._lock:
            self.kv.close()
