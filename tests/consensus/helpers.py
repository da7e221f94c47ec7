"""Shared fixtures of the consensus tests: keys, a validator set, toy applications and a
tiny synchronous network that delivers every broadcast at once (or not, when told)."""

from __future__ import annotations

from collections.abc import Callable

from consensus.api import Message, Output, VoteLog
from consensus.replica import Replica, ReplicaConfig
from core.crypto import PrivateKey
from core.types import Block, CommitCertificate, Validator, ValidatorSet
from tools.simulator_app import MemoryVoteLog, ToyApplication

CHAIN_ID = "hkchain-test"
KEYS = [PrivateKey.from_seed_text(f"consensus-test-{i}") for i in range(4)]
OUTSIDER = PrivateKey.from_seed_text("consensus-test-outsider")
VALIDATORS = ValidatorSet(tuple(Validator(k.public_key, f"v{i}") for i, k in enumerate(KEYS)))
CONFIG = ReplicaConfig(view_timeout_ms=100, max_view_timeout_ms=800, catch_up_interval_ms=50)


def new_app() -> ToyApplication:
    return ToyApplication(CHAIN_ID, lambda _h: VALIDATORS)


def key_of_proposer(height: int, view: int) -> PrivateKey:
    pk = VALIDATORS.proposer(height, view)
    return next(k for k in KEYS if k.public_key == pk)


class Cluster:
    """Four replicas over a loss-free, in-order network; ``drop`` filters deliveries."""

    def __init__(
        self,
        config: ReplicaConfig = CONFIG,
        apps: list[ToyApplication] | None = None,
        logs: list[VoteLog] | None = None,
    ) -> None:
        self.apps = apps if apps is not None else [new_app() for _ in KEYS]
        self.logs: list[VoteLog] = logs if logs is not None else [MemoryVoteLog() for _ in KEYS]
        self.replicas = [
            Replica(CHAIN_ID, k, self.apps[i], self.logs[i], 1, config) for i, k in enumerate(KEYS)
        ]
        self.now_ms = 0
        self.queue: list[tuple[int, Message]] = []
        self.decided: list[list[tuple[Block, CommitCertificate]]] = [[] for _ in KEYS]
        self.view_changes = 0
        self.drop: Callable[[int, Message], bool] = lambda _to, _msg: False
        self.down: set[int] = set()
        self.wake_at_ms: dict[int, int | None] = {}

    def apply(self, index: int, out: Output) -> None:
        self.decided[index].extend(out.decided)
        self.wake_at_ms[index] = out.wake_at_ms
        self.view_changes += out.view_changes
        for msg in out.broadcast:
            for j in range(len(self.replicas)):
                if j != index:
                    self.queue.append((j, msg))
        for recipient, msg in out.send:
            j = next(i for i, k in enumerate(KEYS) if k.public_key == recipient)
            self.queue.append((j, msg))

    def start(self) -> None:
        for i, r in enumerate(self.replicas):
            if i not in self.down:
                self.apply(i, r.start(self.now_ms))

    def deliver_all(self, until_height: int = 3, max_messages: int = 20_000) -> None:
        """Deliver until the network is quiet or every live replica reached ``until_height``
        (with instant delivery the chain would otherwise never stop)."""
        for _ in range(max_messages):
            live = [r.height for i, r in enumerate(self.replicas) if i not in self.down]
            if min(live) >= until_height:
                return
            if not self.queue:
                due = [
                    i
                    for i, at in self.wake_at_ms.items()
                    if at is not None and at <= self.now_ms and i not in self.down
                ]
                if not due:
                    return
                for i in due:  # timers due now (a proposal at a new height), not timeouts
                    self.apply(i, self.replicas[i].on_tick(self.now_ms))
                continue
            j, msg = self.queue.pop(0)
            if j in self.down or self.drop(j, msg):
                continue
            self.apply(j, self.replicas[j].on_message(msg, self.now_ms))
        raise AssertionError("network did not go quiet")

    def tick(self, advance_ms: int, until_height: int = 3) -> None:
        self.now_ms += advance_ms
        for i, r in enumerate(self.replicas):
            if i not in self.down:
                self.apply(i, r.on_tick(self.now_ms))
        self.deliver_all(until_height)

    def heights(self) -> list[int]:
        return [r.height for r in self.replicas]
