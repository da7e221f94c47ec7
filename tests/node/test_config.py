"""config.json: round trip, and strict refusal of every malformed setting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from consensus.messages import PrePrepare
from core.crypto import PrivateKey
from core.types import (
    MAX_BLOCK_BYTES,
    MAX_BLOCK_TX_BYTES,
    MAX_CONSENSUS_MESSAGE_BYTES,
    MAX_VALIDATORS,
    CommitCertificate,
    Validator,
    ValidatorSet,
)
from node.config import (
    ConfigError,
    NodeConfig,
    P2PConfig,
    PeerConfig,
    localnet_ports,
)
from p2p.messages import MAX_FRAME_BYTES, Blocks, ConsensusFrame, decode_frame
from tools.simulator_app import ToyApplication

PEER = PeerConfig("node1", b"\xab" * 32, "ws://127.0.0.1:26611/p2p")


def sample() -> NodeConfig:
    return NodeConfig(name="node0", chain_id="hk-local",
                      p2p=P2PConfig(peers=(PEER,), observers=(b"\xcd" * 32,)))


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    cfg = sample()
    path = cfg.save(tmp_path)
    assert path == tmp_path / "config.json"
    assert NodeConfig.load(tmp_path) == cfg
    doc = json.loads(path.read_text())
    assert doc["p2p"]["peers"][0]["public_key"] == "ab" * 32
    assert cfg.key_path(tmp_path) == tmp_path / "node_key.json"
    assert cfg.p2p_url == "ws://127.0.0.1:26601/p2p"


def test_localnet_ports_do_not_collide() -> None:
    ports = [p for k in range(10) for p in localnet_ports(k)]
    assert len(set(ports)) == len(ports)
    assert localnet_ports(1) == (26610, 26611)


def _mutated(change: Any) -> dict[str, Any]:
    doc = sample().to_json()
    change(doc)
    return doc


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.update(extra=1), "extra"),
        (lambda d: d.pop("name"), "name"),
        (lambda d: d.update(name="has space"), "name"),
        (lambda d: d.update(chain_id=""), "chain_id"),
        (lambda d: d.update(key_file="/etc/passwd"), "key_file"),
        (lambda d: d.update(data_dir="../elsewhere"), "data_dir"),
        (lambda d: d.update(log_level="LOUD"), "log_level"),
        (lambda d: d["rpc"].update(port="26600"), "rpc.port"),
        (lambda d: d["rpc"].update(port=70000), "rpc.port"),
        (lambda d: d["rpc"].update(max_batch=0), "rpc.max_batch"),
        (lambda d: d["rpc"].update(max_body_bytes=True), "rpc.max_body_bytes"),
        (lambda d: d.update(rpc=[]), "rpc"),
        (lambda d: d["p2p"]["peers"][0].update(url="http://x:1/p2p"), "p2p.peers[0].url"),
        (lambda d: d["p2p"]["peers"][0].update(public_key="zz"), "p2p.peers[0].public_key"),
        (lambda d: d["p2p"]["peers"][0].update(public_key="ab"), "p2p.peers[0].public_key"),
        (lambda d: d["p2p"]["peers"].append(dict(d["p2p"]["peers"][0])), "p2p.peers[1]"),
        (lambda d: d["p2p"].update(observers=["cd" * 32, "cd" * 32]), "p2p.observers"),
        (lambda d: d["p2p"].update(reconnect_max_ms=1), "p2p.reconnect_max_ms"),
        (lambda d: d["consensus"].update(view_timeout_ms=1), "consensus.view_timeout_ms"),
        (lambda d: d["block"].update(max_block_txs=10**9), "block.max_block_txs"),
        (lambda d: d["mempool"].update(max_txs=-1), "mempool.max_txs"),
        (lambda d: d["mempool"].update(unknown=1), "mempool.unknown"),
    ],
)
def test_refuses_malformed_settings_naming_the_field(change: Any, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        NodeConfig.from_json(_mutated(change))
    assert info.value.code == "bad_config"
    assert where in info.value.message


def test_load_reports_missing_and_unparsable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        NodeConfig.load(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        NodeConfig.load(tmp_path)
    (tmp_path / "config.json").write_text("[]")
    with pytest.raises(ConfigError, match="JSON object"):
        NodeConfig.load(tmp_path)


def test_size_bounds_derive_from_the_one_block_limit() -> None:
    # The proposer's tx budget may reach MAX_BLOCK_TX_BYTES and no further; the frame limit
    # may not fall below the largest legal frame, which carries a block of MAX_BLOCK_BYTES.
    assert P2PConfig().max_frame_bytes == MAX_FRAME_BYTES
    assert MAX_FRAME_BYTES > MAX_CONSENSUS_MESSAGE_BYTES > MAX_BLOCK_BYTES > MAX_BLOCK_TX_BYTES
    top = _mutated(lambda d: d["block"].update(max_block_bytes=MAX_BLOCK_TX_BYTES))
    assert NodeConfig.from_json(top).block.max_block_bytes == MAX_BLOCK_TX_BYTES
    for change, where in (
        (lambda d: d["block"].update(max_block_bytes=MAX_BLOCK_TX_BYTES + 1), "block.max_block_bytes"),
        (lambda d: d["p2p"].update(max_frame_bytes=MAX_FRAME_BYTES - 1), "p2p.max_frame_bytes"),
        (lambda d: d["p2p"].update(max_frame_bytes=20 * 1024 * 1024), "p2p.max_frame_bytes"),
    ):
        with pytest.raises(ConfigError) as info:
            NodeConfig.from_json(_mutated(change))
        assert where in info.value.message


def test_the_largest_frames_fit_the_frame_limit() -> None:
    key = PrivateKey.from_seed_text("frame-limit")
    app = ToyApplication("hk-local", lambda _h: ValidatorSet((Validator(key.public_key),)),
                         block_bytes=MAX_BLOCK_TX_BYTES)
    block = app.propose(1, 0, 1)
    assert len(block.encoded) <= MAX_BLOCK_BYTES
    # A full certificate of MAX_VALIDATORS signatures, with the block, in one sync frame.
    cert = CommitCertificate("hk-local", 1, 0, block.hash,
                             tuple((bytes([i]) + bytes(31), bytes(64)) for i in range(MAX_VALIDATORS)))
    frames = [Blocks(((block, cert),), 1).encode(),
              ConsensusFrame(b"\x00" * MAX_CONSENSUS_MESSAGE_BYTES).encode(),
              ConsensusFrame(PrePrepare.create(key, "hk-local", 1, 0, block).encode()).encode()]
    for data in frames:
        assert len(data) <= MAX_FRAME_BYTES
        decode_frame(data)  # within the decoder's limit too
