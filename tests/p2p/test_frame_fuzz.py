"""A p2p frame fuzzer over a real link: an authenticated peer (an observer key the node
admits) sends a real node process mutated and garbage frames, each followed by a probe,
for a bounded, seeded number of cases.

The fuzzer is a ``p2p.network.Network`` of its own, so it dials, shakes hands and seals
its frames exactly as a node does; a case is the plaintext frame it hands to its peer's
send path. For each case the node must either keep the link and answer the probe (a
BlobRequest for a hash unique to the case, answered "not found") or drop the link with a
Goodbye that gives a reason code, never hang; anything that does not decode locally must
be dropped as ``malformed``. Over the whole run the node keeps committing, logs no error of
its own, and is never stopped. ``HKCHAIN_P2P_FUZZ_CASES`` widens the run and
``HKCHAIN_P2P_FUZZ_SEED`` varies it.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli.wallet import RpcClient
from consensus.messages import Commit, Prepare
from core import codec
from core.crypto import PrivateKey
from core.errors import DecodeError
from core.types import VOTE_COMMIT, VOTE_PREPARE, Tx, Vote
from node.config import NodeConfig, P2PConfig, PeerConfig
from p2p.messages import (
    Auth,
    Blob,
    BlobRequest,
    Blocks,
    BlocksRequest,
    ConsensusFrame,
    Frame,
    Goodbye,
    Status,
    TxAnnounce,
    TxRequest,
    Txs,
    decode_frame,
)
from p2p.network import Identity, Network, Peer
from tests.e2e.harness import describe_logs, make_network, running, wait_until
from tests.node.harness import free_port

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("HKCHAIN_P2P_FUZZ_SEED", "20261130"))
CASES = int(os.environ.get("HKCHAIN_P2P_FUZZ_CASES", "200"))
PROBE_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 15.0
FUZZER = PrivateKey.from_seed_text("p2p-frame-fuzzer")
# "code: message", as Network.punish says it.
REASON = re.compile(r"^[a-z_]+: \S")


@dataclass
class Admission:
    """The fuzzer's view: the target node is a validator, the fuzzer is not."""

    target: bytes

    def is_validator(self, public_key: bytes) -> bool:
        return public_key == self.target

    def is_admitted(self, public_key: bytes) -> bool:
        return public_key == self.target

    def height(self) -> int:
        return 0


def corpus(chain_id: str, rng: random.Random) -> list[Frame]:
    """Valid frames of every kind a peer may send after the handshake (and two it may not)."""
    key = PrivateKey.from_seed_text("p2p-fuzz-sender")
    tx = Tx(chain_id, key.public_key, 0, "token", "transfer", (key.address, 1), 1000, 50).sign(key)
    h = rng.randbytes(32)
    return [
        Status(3),
        TxAnnounce((h, rng.randbytes(32))),
        TxRequest((h,)),
        Txs((tx,)),
        ConsensusFrame(Prepare(Vote.create(FUZZER, VOTE_PREPARE, chain_id, 2, 0, h)).encode()),
        ConsensusFrame(Commit(Vote.create(FUZZER, VOTE_COMMIT, chain_id, 2, 1, h)).encode()),
        BlocksRequest(1, 2),
        Blocks((), 0),
        BlobRequest(h),
        Blob(h, False, b""),
        Auth(bytes(64), bytes(32)),  # a handshake frame after the handshake: unexpected
    ]


SPECIAL_BYTES = (0x00, 0x01, 0x7F, 0x80, 0x90, 0x91, 0xC0, 0xC1, 0xC4, 0xCC, 0xCF, 0xD9, 0xDC,
                 0xDD, 0xDE, 0xDF, 0xFF)


def mutations(rng: random.Random, pieces: list[bytes]) -> list[tuple[str, Callable[[bytes], bytes]]]:
    def flip_bit(b: bytes) -> bytes:
        i = rng.randrange(len(b))
        return b[:i] + bytes([b[i] ^ (1 << rng.randrange(8))]) + b[i + 1:]

    def special_byte(b: bytes) -> bytes:
        i = rng.randrange(len(b))
        return b[:i] + bytes([rng.choice(SPECIAL_BYTES)]) + b[i + 1:]

    def truncate(b: bytes) -> bytes:
        return b[:rng.randrange(len(b))]

    def insert(b: bytes) -> bytes:
        i = rng.randrange(len(b) + 1)
        return b[:i] + rng.randbytes(rng.randrange(1, 16)) + b[i:]

    def delete(b: bytes) -> bytes:
        i = rng.randrange(len(b))
        return b[:i] + b[i + rng.randrange(1, 8):]

    def duplicate(b: bytes) -> bytes:
        i = rng.randrange(len(b))
        j = min(len(b), i + rng.randrange(1, 16))
        return b[:j] + b[i:j] + b[j:]

    def splice(b: bytes) -> bytes:
        other = rng.choice(pieces)
        return b[:rng.randrange(len(b) + 1)] + other[rng.randrange(len(other)):]

    def retag(b: bytes) -> bytes:
        value = codec.decode(b, 1 << 20)
        assert isinstance(value, list)
        value[0] = rng.choice([0, 1, 99, 100, 101, 102, 103, 104, 105, 139, 141, 152, 255, 2**32])
        return codec.encode(value)

    def random_bytes(b: bytes) -> bytes:
        return rng.randbytes(rng.randrange(1, 256))

    def unchanged(b: bytes) -> bytes:
        return b

    return [("flip_bit", flip_bit), ("special_byte", special_byte), ("truncate", truncate),
            ("insert", insert), ("delete", delete), ("duplicate", duplicate), ("splice", splice),
            ("retag", retag), ("random_bytes", random_bytes), ("unchanged", unchanged)]


class Fuzzer:
    """The fuzzing peer: one Network dialing the target, and what it hears back."""

    def __init__(self, network: Network, target: bytes) -> None:
        self.network = network
        self.target = target
        self.blob_answers: set[bytes] = set()
        self.changed = asyncio.Event()
        for tag in range(0, 256):  # whatever the node sends us is fine
            network.handle(tag, self._heard)
        network.on_disconnect.append(lambda peer: self.changed.set())

    def _heard(self, peer: Peer, frame: Frame) -> None:
        if isinstance(frame, Blob):
            self.blob_answers.add(frame.blob_hash)
            self.changed.set()

    async def link(self) -> Peer:
        async def up() -> Peer | None:
            peer = self.network.peers.get(self.target)
            return peer if peer is not None and not peer.closed.is_set() else None

        return await wait_until("the fuzzer's link to the node", up, timeout_s=CONNECT_TIMEOUT_S,
                                interval_s=0.02)

    async def probe(self, peer: Peer, probe_hash: bytes) -> bool:
        """True once the node answered the probe on ``peer``; False once the link is gone."""
        peer.send(BlobRequest(probe_hash))
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            while True:
                if probe_hash in self.blob_answers:
                    return True
                if peer.closed.is_set():
                    return False
                self.changed.clear()
                await self.changed.wait()


async def test_a_node_survives_mutated_frames_from_an_authenticated_peer(tmp_path: Path) -> None:
    net = make_network(tmp_path / "net", 1)
    home = net.nodes[0].home
    config = NodeConfig.load(home)
    # The fuzzer is admitted as an observer; no ban, so each case starts on a fresh link.
    p2p = dataclasses.replace(config.p2p, observers=(FUZZER.public_key,), misbehaviour_ban_ms=0,
                              max_misbehaviour_ban_ms=0)
    config.with_changes(p2p=p2p).save(home)
    rng = random.Random(SEED)
    with running(net) as sup:
        await asyncio.to_thread(sup.wait_ready, None, 60_000)
        async with RpcClient(net.nodes[0].rpc_url, timeout_ms=5000) as rpc:
            status = await rpc.status()
            target = bytes.fromhex(status["public_key"])
            start_height = int(status["height"])
            settings = P2PConfig(port=free_port(), reconnect_min_ms=20, reconnect_max_ms=100,
                                 peers=(PeerConfig("target", target, f"{config.p2p_url}"),))
            network = Network(settings, Identity(FUZZER, status["chain_id"],
                                                 bytes.fromhex(status["genesis_hash"])), Admission(target))
            fuzzer = Fuzzer(network, target)
            await network.start()
            outcomes: collections.Counter[str] = collections.Counter()
            try:
                frames = [f.encode() for f in corpus(status["chain_id"], rng)]
                muts = mutations(rng, frames)
                for case in range(CASES):
                    name, mutate = muts[case % len(muts)]
                    data = mutate(rng.choice(frames))
                    try:
                        local: Frame | None = decode_frame(data)
                    except DecodeError:
                        local = None
                    peer = await fuzzer.link()
                    peer.send_bytes(data)
                    probe_hash = hashlib.sha256(f"probe {case}".encode()).digest()
                    try:
                        kept = await fuzzer.probe(peer, probe_hash)
                    except TimeoutError:
                        raise AssertionError(f"case {case} ({name}, {data.hex()}): the node neither "
                                             f"answered nor dropped the link\n{describe_logs(sup)}") from None
                    what = f"case {case} ({name}, {data.hex()[:200]}): {peer.goodbye_reason!r}"
                    if kept:
                        # An empty frame is a keepalive of the sealed link (p2p/network.py).
                        assert local is not None or data == b"", f"{what}: an undecodable frame was accepted"
                        outcomes["kept"] += 1
                        continue
                    reason = peer.goodbye_reason or ""
                    if isinstance(local, Goodbye):
                        outcomes["goodbye"] += 1
                        continue
                    assert REASON.match(reason), f"{what}: dropped without a clear reason"
                    code = reason.split(":", 1)[0]
                    if local is None:
                        assert code == "malformed", what
                    outcomes[code] += 1
            finally:
                await network.stop()
            print(f"{CASES} cases (seed {SEED}): {dict(outcomes)}")
            assert outcomes["kept"] > 0 and outcomes["malformed"] > 0, outcomes

            # The node never stalled nor stopped: it keeps committing and logs no error of its own.
            async def committing() -> bool:
                return int((await rpc.status())["height"]) >= start_height + 3

            await wait_until("the node to keep committing", committing, timeout_s=30)
            assert sup.is_running(0)
            log = sup.log_path(0).read_text(errors="replace")
            assert " ERROR " not in log and " CRITICAL " not in log, describe_logs(sup)
