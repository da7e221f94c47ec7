"""A fixed multi-block scenario; prints the state digest and receipt hashes. Run in
subprocesses with different PYTHONHASHSEED values by test_determinism.py."""

from __future__ import annotations

import sys

from core.hashing import sha256
from core.types import receipts_root
from tests.vm.helpers import OPERATOR, VALIDATOR_KEYS, Chain, genesis_doc, key

APP = '''
def note(tags: list, d: dict) -> list:
    seen = {}
    for t in tags:
        seen[t] = seen.get(t, 0) + 1
    store("n:" + caller, {"seen": seen, "d": d, "keys": sorted(d)})
    emit("Noted", count=len(seen), first=tags[0])
    return list(seen.keys())
'''


def run() -> str:
    households = [key(f"hh-{i}") for i in range(5)]
    g = genesis_doc(households=[{"address": h.address, "area_dm2": 5_000 + 1_000 * i}
                                for i, h in enumerate(households)])
    g["params"]["governance"] = {"owners_voting_blocks": 6, "chain_voting_blocks": 4}
    c = Chain(g)
    roots = []
    c.deploy("notes", APP)
    users = [key(f"user-{i}") for i in range(6)]
    c.block(*[c.tx(OPERATOR, "token", "transfer", [u.address, 10**8]) for u in users])
    pid = c.ok(OPERATOR, "governance", "propose_owners", [7, "renovate", b"\x07" * 32])
    cid = c.ok(VALIDATOR_KEYS[0], "governance", "propose_chain",
               [["call", "fees", "set_param", ["fee_split", [["governance", 6000], [OPERATOR.address, 4000]]]], "split"])
    for h in range(12):
        txs = []
        for i, u in enumerate(users):
            to = users[(i + h) % len(users)].address
            txs.append(c.tx(u, "token", "transfer", [to, 1 + h * i]))
            txs.append(c.tx(u, "notes", "note", [[f"t{h % 3}", f"t{i}", "z", f"t{h % 3}"], {"b": h, "a": [i, {"x": "y"}]}]))
        txs.append(c.tx(users[0], "token", "transfer", [users[1].address, 10**15]))  # fails
        if h < len(households):
            txs.append(c.tx(households[h], "governance", "vote", [pid, "yes" if h % 2 == 0 else "no"]))
        if h < 3:
            txs.append(c.tx(VALIDATOR_KEYS[h], "governance", "vote", [cid, "yes"]))
        receipts = c.block(*txs)
        roots.append(receipts_root(receipts).hex())
    roots.append(c.state.root().hex())
    return sha256("".join(roots).encode()).hex()


if __name__ == "__main__":
    sys.stdout.write(run() + "\n")
