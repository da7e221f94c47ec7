"""The websocket's event hub: a validator-set change reaches the subscribers of the
``validators`` topic only, with the set, its hash and when it applies."""

from __future__ import annotations

import json

from core.crypto import PrivateKey
from core.types import Validator, ValidatorSet
from node.events import EventHub, Subscription


def _set(n: int) -> ValidatorSet:
    return ValidatorSet(tuple(Validator(PrivateKey(bytes([i + 1]) * 32).public_key, f"node{i}")
                              for i in range(n)))


def test_a_validator_set_change_goes_to_the_validators_topic_only() -> None:
    hub = EventHub(8)
    watcher, blocks = Subscription(validators=True), Subscription(blocks=True, events=True)
    assert hub.subscribe(watcher) and hub.subscribe(blocks)
    vs = _set(3)
    hub.publish_validators(40, 42, vs)  # decided at 40, signs from 42
    hub.publish_validators(41, 42, vs)  # in force after 41
    pushed = [watcher.queue.get_nowait() for _ in range(2)]
    assert None not in pushed
    decided, in_force = (json.loads(m or "") for m in pushed)
    assert decided == {"type": "validators", "height": 40, "effective_height": 42, "in_force": False,
                       "hash": vs.hash.hex(),
                       "validators": [{"public_key": v.public_key.hex(), "address": v.address, "name": v.name}
                                      for v in vs.validators]}
    assert in_force["in_force"] is True and in_force["height"] == 41 and in_force["hash"] == vs.hash.hex()
    assert watcher.queue.empty() and blocks.queue.empty()


def test_nothing_is_rendered_without_a_validators_subscriber() -> None:
    hub = EventHub(8)
    sub = Subscription(blocks=True)
    hub.subscribe(sub)
    hub.publish_validators(5, 6, _set(4))
    assert sub.queue.empty()
