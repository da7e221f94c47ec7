"""The inbox: txs pushed or relayed by peers that this node holds, not yet admitted.

A validator proposes one height in n. Admitting a peer's tx to the mempool means
checking its signature and then its nonce, expiry and fee against the head, and every
validator paid that for every tx, although only the next proposers need the tx in their
pool: the others meet it again only in a proposal, when block validation checks the
signature and executes it anyway. So a validator that is not about to propose checks a
peer's tx's signature only (so a block that carries it need not, on the path to this
validator's vote), keeps it here, and admits it to the mempool only once it may propose
soon (``Node._may_propose_soon``: the proposer of the current view or of the next
height, or of the next view when the current one's is down), or once it has waited a
view timeout (``hold_s_for``) without being committed.
A tx committed meanwhile is dropped from here: at scale most txs never reach most
validators' mempools.

Gossip treats held txs as held (no body is asked for twice, and peers may fetch them),
proposals by reference find their bodies here, and a tx's status is "pending". But a held
tx does not end an idle proposer's empty-block wait at this validator (its view timer
runs only once the tx is admitted): anyone could push valid but unpayable txs. So after a
silent proposer at an idle chain, a tx sent to another node may wait up to the hold
longer for the view change (at most the empty-block interval longer, which ends that
wait anyway). A proposer taken as down (no link for 5 s) is the exception: a held tx
ends the wait for it (``Node._held_for_a_dead_proposer``), since no empty block can come
from it. The inbox is memory only, as every tx learnt from a peer is (the node that
accepted it from a client journaled it), and bounded in count and bytes: the oldest go
first, and one still needed is fetched again by the proposal that names it.
"""

from __future__ import annotations

from p2p.bodies import TxBodies

# The shortest hold: as long as a relay waits (p2p/gossip.py, RELAY_DELAY_S).
MIN_HOLD_S = 2.0


def hold_s_for(view_timeout_ms: int) -> float:
    """How long a peer's tx waits here before it is admitted anyway (and then relayed,
    like any other): as long as a view may last, at least ``MIN_HOLD_S``. A tx still
    pending then is late, and admitting it sets this validator's view timer running in
    case the proposer is silent. A shorter hold undoes the inbox where heights are slow:
    at 64 validators under load they took 2 to 5 s, longer than the 2 s the hold was, so
    every validator admitted nearly every tx all the same."""
    return max(MIN_HOLD_S, view_timeout_ms / 1000)


class Inbox(TxBodies):
    """Peers' txs not admitted yet, oldest first, at most ``max_txs`` and ``max_bytes``
    (the mempool's bounds). ``add`` says how many it pushed out; the node counts them in
    ``hkchain_inbox_dropped_total``."""
