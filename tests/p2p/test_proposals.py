"""Proposals by reference (p2p/proposals.py): a block rebuilt from the bodies at hand,
the missing ones fetched from the sender, and nothing delivered when they cannot be had
or are not the bodies named; the frame itself refuses hashes that are not its tx root."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from core.crypto import PrivateKey
from core.errors import DecodeError
from core.hashing import sha256
from core.types import Block, BlockHeader, SignedTx, tx_root
from p2p.errors import PeerMisbehaved
from p2p.messages import Proposal, ProposalTxs, ProposalTxsRequest, decode_frame
from p2p.network import Network, Peer
from p2p.proposals import MAX_PENDING_PER_PEER, ProposalRelay, assemble, compact, fill, gather
from tests.node.harness import CHAIN_ID, make_tx, wait_for
from tests.p2p.test_network import KEYS, SealedSocket, make_network, run_handshake

PROPOSER = PrivateKey.from_seed_text("proposal-test-proposer")
FETCH_TIMEOUT_S = 0.5


def make_block(txs: list[SignedTx], height: int = 5) -> Block:
    header = BlockHeader(CHAIN_ID, height, b"\x01" * 32, tx_root(txs), b"\x02" * 32, b"\x03" * 32,
                         PROPOSER.public_key, 0, 1_700_000_000_000, b"\x04" * 32)
    return Block(header, tuple(txs))


def proposal_of(block: Block) -> Proposal:
    # The relay does not check signatures (its host does): any 64 bytes stand here.
    return compact(block, CHAIN_ID, block.height, 0, PROPOSER.public_key, bytes(64))


class Bodies:
    def __init__(self, txs: list[SignedTx] = ()) -> None:  # type: ignore[assignment]
        self.txs = {t.hash: t for t in txs}

    def body(self, tx_hash: bytes) -> SignedTx | None:
        return self.txs.get(tx_hash)


class Host:
    def __init__(self, admit: bool = True) -> None:
        self.admits = admit
        self.delivered: list[tuple[bytes, Proposal, Block]] = []

    def admit(self, peer: Peer, proposal: Proposal) -> bool:
        return self.admits

    def deliver(self, peer: Peer, proposal: Proposal, block: Block, cpu_s: float) -> None:
        assert cpu_s >= 0
        self.delivered.append((peer.public_key, proposal, block))


TXS = [make_tx(0, n) for n in range(6)]


# --- rebuilding, without a network ---------------------------------------------------------


def test_a_block_whose_bodies_are_all_at_hand_is_rebuilt_exactly() -> None:
    block = make_block(TXS)
    proposal = proposal_of(block)
    txs, missing = gather(proposal, Bodies(list(reversed(TXS))))
    assert missing == []
    rebuilt = assemble(proposal, txs)
    assert rebuilt == block and rebuilt.hash == block.hash and rebuilt.encoded == block.encoded


def test_missing_bodies_are_named_by_position_and_filled_from_the_answer() -> None:
    block = make_block(TXS)
    proposal = proposal_of(block)
    txs, missing = gather(proposal, Bodies(TXS[:2] + TXS[4:]))
    assert missing == [2, 3]
    with pytest.raises(ValueError):
        assemble(proposal, txs)  # never a part of a block
    fill(proposal, txs, missing, TXS[2:4])
    assert assemble(proposal, txs) == block


def test_an_answer_that_is_not_the_named_bodies_is_the_answerers_fault() -> None:
    block = make_block(TXS)
    proposal = proposal_of(block)
    txs, missing = gather(proposal, Bodies(TXS[:2] + TXS[4:]))
    with pytest.raises(PeerMisbehaved) as wrong_body:
        fill(proposal, txs, missing, [TXS[2], make_tx(1, 0)])
    assert wrong_body.value.code == "bad_proposal_txs"
    with pytest.raises(PeerMisbehaved) as wrong_count:
        fill(proposal, txs, missing, [TXS[2]])
    assert wrong_count.value.code == "bad_proposal_txs"


def test_a_proposal_whose_hashes_are_not_its_tx_root_does_not_decode() -> None:
    block = make_block(TXS)
    good = proposal_of(block)
    assert decode_frame(good.encode()) == good
    swapped = (good.tx_hashes[1], good.tx_hashes[0], *good.tx_hashes[2:])
    for hashes in (swapped, good.tx_hashes[:-1], (*good.tx_hashes[:-1], sha256(b"unknown"))):
        bad = Proposal(good.chain_id, good.height, 0, good.header, hashes, good.proposer,
                       good.signature)
        with pytest.raises(DecodeError, match="tx_root"):
            decode_frame(bad.encode())
    twice = make_block([TXS[0], TXS[0]])
    with pytest.raises(DecodeError, match="twice"):
        decode_frame(proposal_of(twice).encode())
    other_height = Proposal(good.chain_id, good.height + 1, 0, good.header, good.tx_hashes,
                            good.proposer, good.signature)
    with pytest.raises(DecodeError, match="height"):
        decode_frame(other_height.encode())


def test_a_proposal_of_a_block_with_a_tx_of_another_chain_is_refused() -> None:
    foreign = make_block(TXS[:2])
    header = BlockHeader("hk-other", *[getattr(foreign.header, f) for f in
                                       ("height", "prev_hash", "tx_root", "state_root",
                                        "receipts_root", "proposer", "view", "timestamp_ms",
                                        "validator_set_hash")])
    proposal = compact(Block(header, foreign.txs), "hk-other", header.height, 0,
                       PROPOSER.public_key, bytes(64))
    txs, missing = gather(proposal, Bodies(TXS))
    assert not missing
    with pytest.raises(PeerMisbehaved) as exc:
        assemble(proposal, txs)
    assert exc.value.code == "bad_proposal"


# --- fetching over a real link --------------------------------------------------------------


async def next_of(ws: SealedSocket, kind: type, timeout_s: float = 5.0) -> object:
    async with asyncio.timeout(timeout_s):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.BINARY, msg
            frame = decode_frame(msg.data)
            if isinstance(frame, kind):
                return frame


class Linked:
    """A node's network and relay, and one raw test peer linked to it."""

    def __init__(self, bodies: Bodies, host: Host) -> None:
        self.net: Network = make_network(KEYS[0])
        self.host = host
        self.relay = ProposalRelay(self.net, bodies, host, FETCH_TIMEOUT_S)
        self.session: aiohttp.ClientSession | None = None
        self.ws: SealedSocket | None = None

    async def __aenter__(self) -> Linked:
        await self.net.start()
        self.session, self.ws = await run_handshake(self.net, KEYS[1])
        await wait_for(lambda: len(self.net.peers) == 1, what="the peer linked")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.ws is not None and self.session is not None
        await self.ws.close()
        await self.session.close()
        self.relay.stop()
        await self.net.stop()


async def test_missing_bodies_are_fetched_from_the_sender_and_the_whole_block_delivered() -> None:
    block = make_block(TXS)
    async with Linked(Bodies(TXS[:3]), Host()) as t:
        assert t.ws is not None
        await t.ws.send_bytes(proposal_of(block).encode())
        req = await next_of(t.ws, ProposalTxsRequest)
        assert isinstance(req, ProposalTxsRequest)
        assert req.block_hash == block.hash and req.indexes == (3, 4, 5)
        assert t.host.delivered == []  # nothing handed on while bodies are missing
        await t.ws.send_bytes(ProposalTxs(block.hash, tuple(TXS[3:])).encode())
        await wait_for(lambda: len(t.host.delivered) == 1, what="the block delivered")
        assert t.host.delivered[0][2] == block
        assert (t.relay.rebuilt_fetched, t.relay.bodies_fetched, t.relay.fetch_failures) == (1, 3, 0)
        assert t.net.misbehaviours == 0
        # Rebuilt, it is kept: the node answers others' requests for its bodies.
        await t.ws.send_bytes(ProposalTxsRequest(block.hash, (0, 5)).encode())
        answer = await next_of(t.ws, ProposalTxs)
        assert isinstance(answer, ProposalTxs) and answer.txs == (TXS[0], TXS[5])


async def test_all_bodies_at_hand_deliver_at_once_without_a_request() -> None:
    block = make_block(TXS)
    async with Linked(Bodies(TXS), Host()) as t:
        assert t.ws is not None
        await t.ws.send_bytes(proposal_of(block).encode())
        await wait_for(lambda: len(t.host.delivered) == 1, what="the block delivered")
        assert t.host.delivered[0][2] == block and t.relay.rebuilt_locally == 1


@pytest.mark.parametrize("answer", ["empty", "none"])
async def test_unknown_hashes_deliver_nothing_and_blame_nobody(answer: str) -> None:
    unknown = [make_tx(2, n) for n in range(3)]  # bodies nobody here holds
    block = make_block(TXS[:2] + unknown)
    async with Linked(Bodies(TXS), Host()) as t:
        assert t.ws is not None
        await t.ws.send_bytes(proposal_of(block).encode())
        req = await next_of(t.ws, ProposalTxsRequest)
        assert isinstance(req, ProposalTxsRequest) and req.indexes == (2, 3, 4)
        if answer == "empty":
            await t.ws.send_bytes(ProposalTxs(block.hash, ()).encode())
        # No answer: the fetch gives up after its timeout.
        await wait_for(lambda: t.relay.fetch_failures == 1, timeout_s=FETCH_TIMEOUT_S + 5,
                       what="the fetch given up")
        # A late answer finds nothing waiting: still nothing delivered, nobody blamed.
        await t.ws.send_bytes(ProposalTxs(block.hash, tuple(unknown)).encode())
        await t.ws.send_bytes(proposal_of(make_block(TXS[:1], height=6)).encode())
        await wait_for(lambda: len(t.host.delivered) == 1, what="a later proposal delivered")
        assert t.host.delivered[0][2].height == 6
        assert t.net.misbehaviours == 0 and len(t.net.peers) == 1


async def test_a_wrong_body_for_a_hash_is_refused_and_drops_the_sender() -> None:
    block = make_block(TXS)
    async with Linked(Bodies(TXS[:4]), Host()) as t:
        assert t.ws is not None
        await t.ws.send_bytes(proposal_of(block).encode())
        req = await next_of(t.ws, ProposalTxsRequest)
        assert isinstance(req, ProposalTxsRequest) and req.indexes == (4, 5)
        await t.ws.send_bytes(ProposalTxs(block.hash, (TXS[4], make_tx(3, 0))).encode())
        await wait_for(lambda: t.net.misbehaviours == 1, what="the sender dropped")
        assert t.host.delivered == []
        assert t.net.penalties[KEYS[1].public_key].reason == "bad_proposal_txs"


async def test_a_tx_root_mismatch_drops_the_sender_and_delivers_nothing() -> None:
    block = make_block(TXS)
    good = proposal_of(block)
    bad = Proposal(good.chain_id, good.height, 0, good.header, good.tx_hashes[::-1],
                   good.proposer, good.signature)
    async with Linked(Bodies(TXS), Host()) as t:
        assert t.ws is not None
        await t.ws.send_bytes(bad.encode())
        await wait_for(lambda: t.net.misbehaviours == 1, what="the sender dropped")
        assert t.host.delivered == []


async def test_a_request_for_positions_the_block_lacks_drops_the_asker_and_unknown_blocks_get_none() -> None:
    block = make_block(TXS)
    async with Linked(Bodies(), Host()) as t:
        assert t.ws is not None
        t.relay.keep(block)
        await t.ws.send_bytes(ProposalTxsRequest(sha256(b"not a block here"), (0,)).encode())
        answer = await next_of(t.ws, ProposalTxs)
        assert isinstance(answer, ProposalTxs) and answer.txs == ()
        await t.ws.send_bytes(ProposalTxsRequest(block.hash, (1, len(TXS))).encode())
        await wait_for(lambda: t.net.misbehaviours == 1, what="the asker dropped")
        assert t.net.penalties[KEYS[1].public_key].reason == "bad_proposal_request"


async def test_waiting_proposals_are_bounded_per_peer() -> None:
    async with Linked(Bodies(), Host()) as t:
        assert t.ws is not None
        for n in range(MAX_PENDING_PER_PEER + 2):
            await t.ws.send_bytes(proposal_of(make_block([make_tx(4, n)], height=10 + n)).encode())
        await wait_for(lambda: t.relay.dropped_busy == 2, what="the extra proposals dropped")
        assert len(t.relay._pending) == MAX_PENDING_PER_PEER
        assert t.net.misbehaviours == 0


async def test_a_proposal_the_host_does_not_admit_is_not_rebuilt() -> None:
    async with Linked(Bodies(), Host(admit=False)) as t:
        assert t.ws is not None
        await t.ws.send_bytes(proposal_of(make_block(TXS)).encode())
        await t.ws.send_bytes(ProposalTxsRequest(sha256(b"x"), (0,)).encode())
        await next_of(t.ws, ProposalTxs)  # the link served a later frame: the first was handled
        assert t.relay._pending == {} and t.host.delivered == []
