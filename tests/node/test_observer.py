"""A node set up as an observer: follows without a vote, and refuses a validator's key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from core.crypto import PrivateKey
from core.errors import ChainError
from core.types import ValidatorSet
from node.config import NodeConfig
from node.service import Node, NodeError
from tests.node.harness import make_homes, open_node, start_nodes, stop_nodes, wait_for


def _as_observer(home: Path) -> None:
    NodeConfig.load(home).with_changes(observer=True).save(home)


async def _validators_and_a_held_observer(tmp_path: Path) -> tuple[list[Node], Node]:
    """Four running validators and an observer opened but not started: it hears of
    blocks, and its head moves, only when the test says."""
    homes = make_homes(tmp_path, 4, observers=1)
    _as_observer(homes[4].home)
    homes[4].config = NodeConfig.load(homes[4].home)
    validators = await start_nodes(homes[:4])
    return validators, open_node(homes[4])


def test_an_observer_with_a_validators_key_is_refused(tmp_path: Path) -> None:
    homes = make_homes(tmp_path, 4)
    _as_observer(homes[0].home)
    homes[0].config = NodeConfig.load(homes[0].home)
    with pytest.raises(NodeError) as err:
        open_node(homes[0])
    assert err.value.code == "observer_is_validator"
    assert "needs a key of its own" in err.value.message


async def test_an_observer_follows_without_a_vote(tmp_path: Path) -> None:
    homes = make_homes(tmp_path, 4, observers=1)
    _as_observer(homes[4].home)
    homes[4].config = NodeConfig.load(homes[4].home)
    nodes = await start_nodes(homes)
    validators, observer = nodes[:4], nodes[4]
    try:
        assert observer.observer and not observer.is_validator
        assert observer.replica._me is None, "an observer's replica holds no key to sign with"
        status = observer.status()
        assert status["observer"] is True and status["validator"] is False
        await wait_for(lambda: observer.store.height >= 3, timeout_s=30, what="the observer follows")
        for h in range(1, 4):
            cert = validators[0].store.certificate(h)
            assert cert is not None
            assert observer.key.public_key not in {k for k, _ in cert.signatures}
            assert observer.store.block(h).hash == validators[0].store.block(h).hash  # type: ignore[union-attr]
    finally:
        await stop_nodes(nodes)


async def test_an_observer_applies_a_synced_block_only_with_a_quorum_certificate(tmp_path: Path) -> None:
    validators, observer = await _validators_and_a_held_observer(tmp_path)
    try:
        await wait_for(lambda: validators[0].store.height >= 1, timeout_s=30, what="a block")
        block, cert = validators[0].store.block(1), validators[0].store.certificate(1)
        assert block is not None and cert is not None and len(cert.signatures) >= 3
        (k0, s0), *rest = cert.signatures
        forged_sig = dataclasses.replace(cert, signatures=((k0, bytes(64)), *rest))
        too_few = dataclasses.replace(cert, signatures=cert.signatures[:2])
        other_block = dataclasses.replace(cert, block_hash=bytes(32))
        stranger = PrivateKey.from_seed_text("not-a-validator").public_key
        by_stranger = dataclasses.replace(
            cert, signatures=tuple(sorted(((stranger, s0), *rest))))
        for bad in (forged_sig, too_few, other_block, by_stranger):
            with pytest.raises(ChainError):
                observer.app.apply_synced(block, bad)
            assert observer.store.height == 0, "a block without a valid quorum changed nothing"
        observer.app.apply_synced(block, cert)
        assert observer.store.height == 1 and observer.store.block(1).hash == block.hash  # type: ignore[union-attr]
    finally:
        await stop_nodes([*validators, observer])


async def test_the_admission_reads_the_validator_set_once_per_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    validators, observer = await _validators_and_a_held_observer(tmp_path)
    try:
        reads: list[int] = []
        real = observer.store.validator_set

        def counted(height: int) -> ValidatorSet | None:
            reads.append(height)
            return real(height)

        monkeypatch.setattr(observer.store, "validator_set", counted)
        admission = observer.network.admission
        keys = [v.key.public_key for v in validators]
        assert [admission.is_validator(k) for k in keys] == [True] * 4
        assert not admission.is_validator(observer.key.public_key)
        assert admission.is_admitted(observer.key.public_key)  # from its config's observers
        assert reads == [1], "five questions at one head, one read"
        await wait_for(lambda: validators[0].store.height >= 1, timeout_s=30, what="a block")
        block, cert = validators[0].store.block(1), validators[0].store.certificate(1)
        assert block is not None and cert is not None
        observer.app.apply_synced(block, cert)  # which reads sets of its own
        before = len(reads)
        assert [admission.is_validator(k) for k in keys] == [True] * 4
        assert reads[before:] == [2], "the head moved: the next height's set is read once"
    finally:
        await stop_nodes([*validators, observer])
