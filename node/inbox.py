"""The inbox: txs pushed or relayed by peers that this node holds, not yet admitted.

A validator proposes one height in n. Admitting a peer's tx to the mempool means
checking its signature and then its nonce, expiry and fee against the head, and every
validator paid that for every tx, although only the next proposers need the tx in their
pool: the others meet it again only in a proposal, when block validation checks the
signature and executes it anyway. So a validator that is not about to propose checks a
peer's tx's signature only (so a block that carries it need not, on the path to this
validator's vote), keeps it here, and admits it to the mempool only once it may propose soon
(``Node._may_propose_soon``: the proposer of the current view or of the next height), or
once it has waited ``HOLD_S`` without being committed. A tx committed meanwhile is
dropped from here: at scale most txs never reach most validators' mempools.

Gossip treats held txs as held (no body is asked for twice, and peers may fetch them),
proposals by reference find their bodies here, and a tx's status is "pending". But a held
tx does not end an idle proposer's empty-block wait at this validator (its view timer
runs only once the tx is admitted): anyone could push valid but unpayable txs. So after a silent proposer
at an idle chain, a tx sent to another node may wait up to ``HOLD_S`` longer for the
view change. The inbox is memory only, as every tx learnt from a peer is (the node that
accepted it from a client journaled it), and bounded in count and bytes: the oldest go
first, and one still needed is fetched again by the proposal that names it.
"""

from __future__ import annotations

from p2p.bodies import TxBodies

# How long a peer's tx waits here before it is admitted anyway: as long as a
# relay waits (p2p/gossip.py, RELAY_DELAY_S), so a tx a busy chain keeps pending is
# admitted, and then relayed, like any other.
HOLD_S = 2.0


class Inbox(TxBodies):
    """Peers' txs not admitted yet, oldest first, at most ``max_txs`` and ``max_bytes``
    (the mempool's bounds); ``dropped`` counts those pushed out before being admitted or
    committed."""
