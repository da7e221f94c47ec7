"""State sync between real websockets on loopback: a joining node learns the validator
set from genesis and a certified change, takes a snapshot, and rebuilds the same store;
a peer serving bad parts or a bad offer is blamed and the others finish the job."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.crypto import PrivateKey
from core.types import (
    VOTE_COMMIT,
    Block,
    BlockHeader,
    CommitCertificate,
    SignedTx,
    ValidatorSet,
    Vote,
    receipts_root,
    tx_root,
)
from node.config import NodeConfig, P2PConfig, PeerConfig
from node.genesis import Genesis, ensure_genesis, parse_genesis
from node.statesync import ChainSnapshotSource, JoinResult, join_by_state_sync
from p2p.messages import SnapshotOffer, StatePart, StateParts, StateRequest
from p2p.network import Identity, Network
from p2p.statesync import SnapshotServer
from storage.chain import ChainStore
from tests.node.harness import free_port
from tests.vm.helpers import CHAIN_ID, GENESIS_TIME_MS, OPERATOR, VALIDATOR_KEYS, genesis_doc
from vm.api import BlockContext
from vm.executor import ContractExecutor
from vm.layout import VALIDATORS_KEY

NEW_KEY = PrivateKey.from_seed_text("state-sync-newcomer")
ALL_KEYS = {k.public_key: k for k in (*VALIDATOR_KEYS, NEW_KEY)}


class TestChain:
    """A real chain (contract executor, ChainStore) whose blocks the test certifies."""

    __test__ = False

    def __init__(self, keep_heights: int = 256) -> None:
        doc = genesis_doc()
        doc["params"]["governance"]["chain_voting_blocks"] = 2
        self.genesis: Genesis = parse_genesis(doc)
        self.ex = ContractExecutor(CHAIN_ID)
        self.store = ChainStore.in_memory(keep_heights=keep_heights)
        self.genesis_block = ensure_genesis(self.store, self.genesis, self.ex)
        self.nonces: dict[bytes, int] = {}

    def tx(self, key: PrivateKey, contract: str, method: str, args: list[object]) -> SignedTx:
        from core.types import Tx

        nonce = self.nonces.get(key.public_key, self.ex.account_nonce(self.store.state(), key.address))
        self.nonces[key.public_key] = nonce + 1
        return Tx(CHAIN_ID, key.public_key, nonce, contract, method, tuple(args),  # type: ignore[arg-type]
                  10**7, self.store.height + 100).sign(key)

    def block(self, *txs: SignedTx) -> Block:
        head = self.store.head
        assert head is not None
        height = head.height + 1
        vs = self.store.validator_set(height)
        assert vs is not None
        overlay = self.store.overlay()
        ts = GENESIS_TIME_MS + height * 1000
        receipts = self.ex.execute_block(overlay, BlockContext(CHAIN_ID, height, ts, vs.proposer(height, 0)),
                                         list(txs))
        assert all(r.status == 0 for r in receipts), [r.error_code for r in receipts]
        header = BlockHeader(CHAIN_ID, height, head.hash, tx_root(txs), overlay.root(),
                             receipts_root(receipts), vs.proposer(height, 0), 0, ts, vs.hash)
        block = Block(header, tuple(txs))
        cert = CommitCertificate.from_votes([
            Vote.create(ALL_KEYS[k], VOTE_COMMIT, CHAIN_ID, height, 0, block.hash)
            for k in vs.public_keys[: vs.quorum]])
        next_vs = self.ex.validator_set(overlay, height + 1)
        changed = self.ex.validator_set(overlay, height + 2).hash != next_vs.hash
        self.store.commit_block(block, cert, receipts, overlay, next_vs,
                                prove_keys=[VALIDATORS_KEY] if changed else [])
        return block

    def validators(self, height: int) -> ValidatorSet:
        vs = self.store.validator_set(height)
        assert vs is not None
        return vs


@pytest.fixture(scope="module")
def chain() -> Iterator[TestChain]:
    c = TestChain()
    c.block(*[c.tx(OPERATOR, "token", "transfer", [k.address, 10**9]) for k in VALIDATOR_KEYS])
    # the validators add a committee by a chain matter; it applies at closes + 2
    c.block(c.tx(VALIDATOR_KEYS[0], "governance", "propose_chain",
                 [["add_validator", NEW_KEY.public_key, "newcomer"], "add a committee"]))
    c.block(*[c.tx(k, "governance", "vote", [1, "yes"]) for k in VALIDATOR_KEYS[:3]])
    for i in range(6):
        c.block(*[c.tx(OPERATOR, "token", "transfer", [PrivateKey.from_seed_text(f"r{i}-{j}").address, 5 + j])
                  for j in range(40)])
    assert len(c.validators(c.store.height + 1)) == 5, "the change applied"
    yield c


class TamperingSource(ChainSnapshotSource):
    """Serves like an honest node, but changes one value of every leaves part."""

    def __init__(self, store: ChainStore, *, bad_offer: bool = False) -> None:
        super().__init__(store)
        self.bad_offer = bad_offer
        self.asked = 0

    def snapshot_offer(self, min_height: int) -> SnapshotOffer:
        offer = super().snapshot_offer(min_height)
        if not self.bad_offer or offer.certificate is None:
            return offer
        cert = offer.certificate
        sigs = tuple((k, bytes(64)) for k, _ in cert.signatures)
        return SnapshotOffer(offer.block, dataclasses.replace(cert, signatures=sigs))

    def state_parts(self, request: StateRequest) -> StateParts:
        self.asked += 1
        answer = super().state_parts(request)
        parts = tuple(
            StatePart(p.path, 0, (), ((p.entries[0][0], p.entries[0][1] + b"x"), *p.entries[1:]))
            if p.entries else p for p in answer.parts)
        return StateParts(answer.height, answer.status, parts)


async def _serve(c: TestChain, key: PrivateKey, joiner: bytes,
                 source: Callable[[ChainStore], ChainSnapshotSource]) -> tuple[Network, PeerConfig]:
    class Admit:
        def is_admitted(self, k: bytes) -> bool:
            return k == joiner

        def is_validator(self, k: bytes) -> bool:
            return False

        def height(self) -> int:
            return c.store.height

    port = free_port()
    net = Network(P2PConfig(port=port), Identity(key, CHAIN_ID, c.genesis_block.hash), Admit())
    SnapshotServer(net, source(c.store))
    await net.start()
    return net, PeerConfig(f"server-{port}", key.public_key, f"ws://127.0.0.1:{port}/p2p")


Source = Callable[[ChainStore], ChainSnapshotSource]


async def _join(tmp_path: Path, c: TestChain,
                servers: list[tuple[PrivateKey, Source]]) -> tuple[JoinResult, ChainStore]:
    joiner = PrivateKey.from_seed_text("joiner")
    nets = []
    peers = []
    for key, source in servers:
        net, peer = await _serve(c, key, joiner.public_key, source)
        nets.append(net)
        peers.append(peer)
    config = NodeConfig(name="joiner", chain_id=CHAIN_ID, state_sync=True,
                        p2p=P2PConfig(port=free_port(), peers=tuple(peers)))
    try:
        result = await join_by_state_sync(tmp_path, config, joiner, c.genesis, ContractExecutor(CHAIN_ID))
    finally:
        for net in nets:
            await net.stop()
    if result.height == 0:  # nothing synced: the node will start from genesis
        assert not (tmp_path / "data" / "chain").exists()
        return result, ChainStore.in_memory()
    store = ChainStore.open(tmp_path / "data" / "chain")
    return result, store


def _same_store(c: TestChain, store: ChainStore, height: int) -> None:
    assert store.height == height == c.store.height
    assert store.state_root == c.store.state_root
    assert store.head is not None and store.head.hash == c.store.head.hash  # type: ignore[union-attr]
    assert store.validator_set(height + 1) == c.validators(height + 1)
    assert store.block(height - 1) is None, "no history before the snapshot"
    for k in VALIDATOR_KEYS:
        assert c.ex.balance(store.state(), k.address) == c.ex.balance(c.store.state(), k.address)


async def test_a_joining_node_takes_a_certified_snapshot_across_a_validator_change(tmp_path: Path, chain: TestChain) -> None:
    result, store = await _join(tmp_path, chain, [(VALIDATOR_KEYS[1], ChainSnapshotSource)])
    try:
        _same_store(chain, store, result.height)
        assert result.blamed == []
        assert store.account_history_from() == result.height + 1
    finally:
        store.close()


async def test_a_peer_serving_bad_parts_is_blamed_and_another_finishes(tmp_path: Path, chain: TestChain) -> None:
    bad = [TamperingSource(chain.store)]

    def bad_source(store: ChainStore) -> ChainSnapshotSource:
        return bad[0]

    result, store = await _join(tmp_path, chain, [(VALIDATOR_KEYS[1], bad_source),
                                                  (VALIDATOR_KEYS[2], ChainSnapshotSource)])
    try:
        _same_store(chain, store, result.height)
        assert bad[0].asked >= 1, "the tampering peer was asked"
        assert [k for k, _ in result.blamed] == [VALIDATOR_KEYS[1].public_key]
        assert "does not verify" in result.blamed[0][1]
    finally:
        store.close()


async def test_a_bad_offer_is_blamed_and_a_good_one_taken(tmp_path: Path, chain: TestChain) -> None:
    result, store = await _join(tmp_path, chain, [
        (VALIDATOR_KEYS[1], lambda s: TamperingSource(s, bad_offer=True)),
        (VALIDATOR_KEYS[2], ChainSnapshotSource)])
    try:
        _same_store(chain, store, result.height)
        assert [k for k, _ in result.blamed] == [VALIDATOR_KEYS[1].public_key]
        assert "snapshot offer" in result.blamed[0][1]
    finally:
        store.close()


class MisbehavingSource(ChainSnapshotSource):
    """Answers every parts request in one wrong way."""

    def __init__(self, store: ChainStore, mode: str) -> None:
        super().__init__(store)
        self.mode = mode

    def state_parts(self, request: StateRequest) -> StateParts:
        answer = super().state_parts(request)
        if self.mode == "empty":
            return StateParts(answer.height, 0, ())
        if self.mode == "reordered":
            return StateParts(answer.height, 0, answer.parts[::-1] if len(answer.parts) > 1 else
                              (StatePart(b"\x0f" * 5, 0, (), ((b"k", b"v"),)),))
        if self.mode == "other_height":
            return StateParts(answer.height + 1, 0, answer.parts)
        assert self.mode == "not_kept"
        return StateParts(answer.height, 1, ())


@pytest.mark.parametrize(("mode", "why"), [
    ("empty", "empty answer"),
    ("reordered", "not in the order asked"),
    ("other_height", "another height"),
])
async def test_a_peer_breaking_the_parts_protocol_is_blamed(tmp_path: Path, chain: TestChain,
                                                           mode: str, why: str) -> None:
    result, store = await _join(tmp_path, chain, [
        (VALIDATOR_KEYS[1], lambda s: MisbehavingSource(s, mode)),
        (VALIDATOR_KEYS[2], ChainSnapshotSource)])
    try:
        _same_store(chain, store, result.height)
        assert [k for k, _ in result.blamed] == [VALIDATOR_KEYS[1].public_key]
        assert why in result.blamed[0][1]
    finally:
        store.close()


async def test_a_peer_that_no_longer_keeps_the_height_is_passed_over_not_blamed(
        tmp_path: Path, chain: TestChain) -> None:
    result, store = await _join(tmp_path, chain, [
        (VALIDATOR_KEYS[1], lambda s: MisbehavingSource(s, "not_kept")),
        (VALIDATOR_KEYS[2], ChainSnapshotSource)])
    try:
        _same_store(chain, store, result.height)
        assert result.blamed == []
    finally:
        store.close()


async def test_a_local_store_failure_stops_the_sync_and_blames_no_peer(
        tmp_path: Path, chain: TestChain, monkeypatch: pytest.MonkeyPatch) -> None:
    from p2p.statesync import StateSyncClient
    from storage.errors import StorageError
    from storage.snapshot import SnapshotBuilder

    def disk_full(self: SnapshotBuilder) -> None:
        raise StorageError("no space left on device", code="storage_io")

    def blame(self: StateSyncClient, key: bytes, why: str) -> None:
        raise AssertionError(f"a peer was blamed for a local failure: {why}")

    monkeypatch.setattr(SnapshotBuilder, "flush", disk_full)
    monkeypatch.setattr(StateSyncClient, "blame", blame)
    with pytest.raises(StorageError, match="no space"):
        await _join(tmp_path, chain, [(VALIDATOR_KEYS[1], ChainSnapshotSource)])
    assert not (tmp_path / "data" / "chain").exists(), "no store is left half made"


async def test_nothing_to_sync_from_peers_at_genesis(tmp_path: Path) -> None:
    fresh = TestChain()
    result, store = await _join(tmp_path, fresh, [(VALIDATOR_KEYS[1], ChainSnapshotSource)])
    store.close()
    assert result.height == 0 and result.parts == 0


def test_an_offered_height_outlives_keep_heights_while_joiners_fetch_it() -> None:
    c = TestChain(keep_heights=2)
    for _ in range(3):
        c.block()
    source = ChainSnapshotSource(c.store)
    offered = source.snapshot_offer(0).block
    assert offered is not None and offered.height == c.store.height
    earlier = offered.height - 1
    for _ in range(6):
        c.block()
    assert source.state_parts(StateRequest(offered.height, 3, (b"",))).status == 0, "held"
    assert source.state_parts(StateRequest(earlier, 3, (b"",))).status == 1, "not held: pruned"
    source._held.clear()  # no joiner for HOLD_S: released, and the next commits prune it
    for _ in range(3):
        c.block()
    assert source.state_parts(StateRequest(offered.height, 3, (b"",))).status == 1


def test_serving_reports_a_pruned_height_as_not_kept(chain: TestChain) -> None:
    source = ChainSnapshotSource(chain.store)
    assert source.state_parts(StateRequest(chain.store.height + 5, 3, (b"",))).status == 1
    assert source.state_parts(StateRequest(chain.store.height, 3, (b"",))).status == 0
