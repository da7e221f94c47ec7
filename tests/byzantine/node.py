"""A Byzantine validator, for tests only: the real node (its key, store, replica and p2p
links), which also lies to its peers over real p2p.

It lives under tests/, which is not part of the installed package, and nothing in the
product starts it: ``hkchain`` and its localnet run node/service.py. A test runs it as
``python -m tests.byzantine.node --home DIR --attack equivocate,garbage`` in place of one
validator of a localnet (tests/faults/test_byzantine.py). Every frame it sends goes through
the p2p module's own peer send path, so it speaks whatever the link speaks (sealed frames
after the handshake included).

Attacks (``--attack``, comma separated):

- ``equivocate``: as proposer of view 0 it proposes two different valid blocks for one
  height (a second PRE-PREPARE of the same height with a later timestamp), both to every
  peer, in opposite orders to alternate peers; and after each PREPARE or COMMIT it signs,
  it sends a second, correctly signed vote of the same kind, height and view for another
  block. Honest nodes must keep committing and record the evidence (``/v1/evidence``).
- ``garbage``: every ``--garbage-interval-ms`` it sends each connected peer the next item
  of ``GARBAGE``: votes with bad or forged signatures, a consensus message for the wrong
  height, undecodable, unknown and truncated frames (each costs it the link and a ban),
  and correctly signed votes for heights far ahead or long decided (not provably wrong:
  they must be ignored within bounds, at no cost to anyone).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
import random
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from consensus.api import Message
from consensus.messages import Commit, Prepare, PrePrepare
from core import codec
from core.types import VOTE_COMMIT, VOTE_PREPARE, Vote
from node.config import NodeConfig
from node.service import Node
from p2p.messages import ConsensusFrame
from p2p.network import Peer

log = logging.getLogger("hkchain.byzantine")

ATTACKS = ("equivocate", "garbage")
GARBAGE_SEED = 1729


def _other_hash(block_hash: bytes) -> bytes:
    return hashlib.sha256(b"byzantine twin of " + block_hash).digest()


class ByzantineNode(Node):
    """A node that equivocates and sends garbage (see the module docstring)."""

    attacks: frozenset[str] = frozenset()
    garbage_interval_ms = 1500

    def _broadcast(self, msg: Message) -> None:
        if "equivocate" not in self.attacks:
            super()._broadcast(msg)
            return
        if isinstance(msg, PrePrepare):
            self._propose_twice(msg)
            return
        super()._broadcast(msg)
        if isinstance(msg, Prepare | Commit):
            v = msg.vote
            twin = Vote.create(self.key, v.kind, v.chain_id, v.height, v.view, _other_hash(v.block_hash))
            self.network.broadcast(ConsensusFrame(type(msg)(twin).encode()))
            log.warning("BYZANTINE: sent two %s votes at height %d view %d", type(msg).__name__,
                        v.height, v.view)

    def _propose_twice(self, pp: PrePrepare) -> None:
        twin_block = self.app.propose(pp.height, 0, pp.block.header.timestamp_ms + 1)
        twin = PrePrepare.create(self.key, self.chain_id, pp.height, 0, twin_block)
        assert twin.block.hash != pp.block.hash
        frames = (ConsensusFrame(pp.encode()), ConsensusFrame(twin.encode()))
        for i, key in enumerate(sorted(self.network.peers)):
            peer = self.network.peers[key]
            for frame in frames if i % 2 == 0 else frames[::-1]:
                peer.send(frame)
        log.warning("BYZANTINE: proposed two blocks at height %d: %s and %s", pp.height,
                    pp.block.hash.hex()[:12], twin.block.hash.hex()[:12])

    # --- garbage ---------------------------------------------------------------------------

    def _garbage(self) -> list[tuple[str, Callable[[Peer], None]]]:
        """(name, send to one peer), in the order each peer gets them."""
        rng = random.Random(GARBAGE_SEED)
        chain = self.chain_id

        def height() -> int:
            return self.replica.height

        def own_vote(kind: int = VOTE_PREPARE, h: int | None = None, block_hash: bytes = b"\x05" * 32) -> Vote:
            return Vote.create(self.key, kind, chain, height() if h is None else h, 0, block_hash)

        def bad_signature(peer: Peer) -> None:
            v = own_vote()
            sig = bytes([v.signature[0] ^ 1]) + v.signature[1:]
            peer.send(ConsensusFrame(Prepare(Vote(v.kind, chain, v.height, 0, v.block_hash,
                                                   v.validator, sig)).encode()))

        def forged_sender(peer: Peer) -> None:
            # A vote in the name of an honest validator (not the receiver): the receiver
            # must blame the link it came on, never the validator named.
            vs = self.current_validators()
            assert vs is not None
            named = next(k for k in sorted(vs.public_keys) if k not in (self.key.public_key, peer.public_key))
            peer.send(ConsensusFrame(Commit(Vote(VOTE_COMMIT, chain, height(), 0, b"\x06" * 32,
                                                  named, bytes(64))).encode()))

        def wrong_height_proposal(peer: Peer) -> None:
            # A signed PRE-PREPARE whose block is not of the height it names.
            head = self.store.head
            assert head is not None
            sig = self.key.sign(PrePrepare.signing_bytes_of(chain, height(), 0, head.hash))
            peer.send(ConsensusFrame(PrePrepare(chain, height(), 0, head, self.key.public_key, sig).encode()))

        def random_bytes(peer: Peer) -> None:
            peer.send_bytes(rng.randbytes(rng.randrange(1, 512)))

        def unknown_frame(peer: Peer) -> None:
            peer.send_bytes(codec.encode([250, b"what is this"]))

        def truncated_frame(peer: Peer) -> None:
            peer.send_bytes(ConsensusFrame(Prepare(own_vote()).encode()).encode()[:-5])

        def far_future_vote(peer: Peer) -> None:
            peer.send(ConsensusFrame(Prepare(own_vote(h=height() + 1000)).encode()))

        def decided_height_vote(peer: Peer) -> None:
            peer.send(ConsensusFrame(Commit(own_vote(VOTE_COMMIT, h=1, block_hash=b"\x07" * 32)).encode()))

        return [
            ("far_future_vote", far_future_vote),
            ("bad_signature", bad_signature),
            ("decided_height_vote", decided_height_vote),
            ("forged_sender", forged_sender),
            ("wrong_height_proposal", wrong_height_proposal),
            ("random_bytes", random_bytes),
            ("unknown_frame", unknown_frame),
            ("truncated_frame", truncated_frame),
        ]

    async def _send_garbage(self) -> None:
        items = self._garbage()
        sent: dict[bytes, int] = {}
        while True:
            await asyncio.sleep(self.garbage_interval_ms / 1000)
            for key, peer in sorted(self.network.peers.items()):
                if peer.closed.is_set():
                    continue
                i = sent.get(key, 0)
                sent[key] = i + 1
                name, send = items[i % len(items)]
                log.warning("BYZANTINE: sending %s to %s", name, peer.label)
                send(peer)

    _garbage_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await super().start()
        if "garbage" in self.attacks:
            self._garbage_task = asyncio.get_running_loop().create_task(self._send_garbage())
            self._watch(self._garbage_task, "sending garbage")

    async def stop(self) -> None:
        if self._garbage_task is not None:
            self._garbage_task.cancel()
        await super().stop()


async def _serve(home: Path) -> None:
    node = ByzantineNode.open(home)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await node.start()
        waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(node.wait_stopped())}
        _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for w in pending:
            w.cancel()
    finally:
        await node.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.byzantine.node", description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--attack", default=",".join(ATTACKS),
                        help=f"comma-separated, of: {', '.join(ATTACKS)}")
    parser.add_argument("--garbage-interval-ms", type=int, default=ByzantineNode.garbage_interval_ms)
    args = parser.parse_args(argv)
    attacks = frozenset(a for a in args.attack.split(",") if a)
    unknown = attacks - set(ATTACKS)
    if unknown:
        parser.error(f"unknown attack(s): {', '.join(sorted(unknown))}")
    ByzantineNode.attacks = attacks
    ByzantineNode.garbage_interval_ms = args.garbage_interval_ms
    config = NodeConfig.load(args.home)
    logging.basicConfig(level=getattr(logging, config.log_level, logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.warning("BYZANTINE node %s starts (attacks: %s)", config.name, ", ".join(sorted(attacks)))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.home))
    sys.exit(0)


if __name__ == "__main__":
    main()
