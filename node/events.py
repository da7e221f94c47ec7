"""Subscriptions to committed blocks, contract events and validator-set changes (the
RPC's ``/v1/ws``).

Each subscriber has a bounded queue; ``publish_block`` renders a block once and offers it
to every subscriber whose filter matches. A subscriber that falls behind by a full queue
is told so and dropped rather than slowing the node.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from core.render import validators_json, value_to_json
from core.types import Block, Receipt, ValidatorSet

MAX_QUEUE_MESSAGES = 1024


@dataclass(eq=False)  # identity-hashed: kept in a set
class Subscription:
    blocks: bool = False
    events: bool = False
    validators: bool = False
    contract: str | None = None
    event_name: str | None = None
    queue: asyncio.Queue[str | None] = field(
        default_factory=lambda: asyncio.Queue(MAX_QUEUE_MESSAGES)
    )
    overflowed: bool = False

    def wants_event(self, contract: str, name: str) -> bool:
        return (
            self.events
            and (self.contract is None or self.contract == contract)
            and (self.event_name is None or self.event_name == name)
        )

    def offer(self, message: str) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True
            # Make room for the end marker so the writer learns of the overflow.
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


class EventHub:
    def __init__(self, max_subscribers: int) -> None:
        self.max_subscribers = max_subscribers
        self.subscribers: set[Subscription] = set()

    def subscribe(self, sub: Subscription) -> bool:
        if len(self.subscribers) >= self.max_subscribers:
            return False
        self.subscribers.add(sub)
        return True

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)

    def publish_block(self, block: Block, receipts: list[Receipt]) -> None:
        if not self.subscribers:
            return
        h = block.header
        if any(s.blocks for s in self.subscribers):
            msg = json.dumps({
                "type": "block",
                "height": h.height,
                "hash": block.hash.hex(),
                "state_root": h.state_root.hex(),
                "timestamp_ms": h.timestamp_ms,
                "view": h.view,
                "proposer": h.proposer.hex(),
                "tx_count": len(block.txs),
                "txs": [t.hash.hex() for t in block.txs],
            })
            for s in self.subscribers:
                if s.blocks:
                    s.offer(msg)
        if not any(s.events for s in self.subscribers):
            return
        for r in receipts:
            for index, ev in enumerate(r.events):
                targets = [s for s in self.subscribers if s.wants_event(ev.contract, ev.name)]
                if not targets:
                    continue
                doc: dict[str, Any] = {
                    "type": "event",
                    "height": h.height,
                    "tx_hash": r.tx_hash.hex(),
                    "index": index,
                    "contract": ev.contract,
                    "name": ev.name,
                    "fields": value_to_json(ev.fields),
                }
                msg = json.dumps(doc)
                for s in targets:
                    s.offer(msg)

    def publish_validators(self, height: int, effective_height: int, vs: ValidatorSet) -> None:
        """The block at ``height`` changed the validator set from ``effective_height`` on:
        said once when the change is decided (effective two blocks later) and once more
        when it is in force (effective at the next height), so a page showing the set
        follows it without reconnecting."""
        targets = [s for s in self.subscribers if s.validators]
        if not targets:
            return
        msg = json.dumps({
            "type": "validators",
            "height": height,
            "effective_height": effective_height,
            "in_force": effective_height == height + 1,
            "hash": vs.hash.hex(),
            "validators": validators_json(vs),
        })
        for s in targets:
            s.offer(msg)
