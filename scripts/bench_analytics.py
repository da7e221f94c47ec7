"""Analytics benchmark: prints figures, asserts nothing about speed.

  python scripts/bench_analytics.py --db sqlite:////tmp/hk-bench.sqlite \\
      [--db postgresql://hkchain@127.0.0.1:PORT/bench] [--txs 1000000] [--repeat 20]
  python scripts/bench_analytics.py --db URL --queries-only [--migrate]   # a database indexed before

For each database: a synthetic chain of a district's mixed workload (2,000 households of
4 committees in 10 estates over a year; transfers, likes, notices read, purchases at
merchants, bills issued monthly and paid, votes, ratings, service requests, activity
rewards, and 3% failed calls) is written through the indexer's write path (the same
BatchWriter, one transaction per 256 blocks with the cursor), and the rate is printed in
txs/s and rows/s. The blocks are synthetic (no RPC, no signatures to check: the txs carry
dummy signatures), so this is the database side of indexing. Then every dashboard query
(each figure for the district and for one committee, as the stats API runs it) is timed
--repeat times, and p50/p95 are printed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from analytics import figures as fg
from analytics import schema
from analytics.indexer import Indexer
from analytics.project import VerifiedRecord
from core.crypto import PrivateKey, address_of
from core.hashing import sha256
from core.types import (
    STATUS_FAILED,
    STATUS_OK,
    Event,
    Receipt,
    SignedTx,
    Tx,
    Validator,
    ValidatorSet,
)

CHAIN_ID = "hk-bench"
DAY_MS = 86_400_000
START_MS = 1_767_225_600_000  # 2026-01-01 UTC
TXS_PER_BLOCK = 500
HOUSEHOLDS = 2_000
COMMITTEES = 4
ESTATES = 10
BATCH_BLOCKS = 256
SIG = b"\x00" * 64


class Account:
    def __init__(self, seed: str) -> None:
        key = PrivateKey.from_seed_text(seed)
        self.public_key = key.public_key
        self.address = address_of(key.public_key)
        self.nonce = 0


class District:
    """The synthetic chain: who exists, what is open, and the next block."""

    def __init__(self, total_txs: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.committees = [Account(f"bench-committee-{i}") for i in range(COMMITTEES)]
        self.company = Account("bench-company")
        self.provider = Account("bench-provider")
        self.merchants = [Account(f"bench-merchant-{i}") for i in range(20)]
        self.residents = [Account(f"bench-resident-{i}") for i in range(HOUSEHOLDS)]
        self.blocks = max(2, total_txs // TXS_PER_BLOCK)
        self.total_txs = total_txs
        self.block_ms = 365 * DAY_MS // self.blocks
        self.height = 0
        self.unpaid: dict[str, list[int]] = {}
        self.next_bill = 1
        self.month_billed = ""
        self.proposal = 0
        self.notices = 0
        self.works = 0
        self.requests: list[int] = []
        self.next_request = 1
        self.read: set[tuple[int, str]] = set()
        self.voted: set[tuple[int, str]] = set()

    def _tx(self, who: Account, contract: str, method: str, args: tuple[Any, ...] = ()) -> SignedTx:
        tx = Tx(CHAIN_ID, who.public_key, who.nonce, contract, method, args, 100, 10**9)
        who.nonce += 1
        return SignedTx(tx, SIG)

    def _fee(self, who: Account, sponsored: bool = False) -> Event:
        return Event("token", "Fee", {"payer": "governance" if sponsored else who.address,
                                      "sender": who.address, "amount": 5})

    def setup(self) -> list[tuple[SignedTx, Receipt]]:
        out = []
        for i, r in enumerate(self.residents):
            c = self.committees[i % COMMITTEES]
            unit = f"E{i % ESTATES}-T{i // 100}-{i:04d}"
            stx = self._tx(c, "roles", "grant", (r.address, "resident"))
            out.append((stx, Receipt(stx.hash, STATUS_OK, 3000, 5, None, (
                Event("roles", "RoleGranted", {"address": r.address, "role": "resident", "by": c.address}),
                self._fee(c)))))
            stx = self._tx(c, "households", "register", (r.address, unit, 6000 + i % 9000, bytes(32)))
            out.append((stx, Receipt(stx.hash, STATUS_OK, 4000, 5, None, (
                Event("households", "HouseholdRegistered", {"address": r.address, "unit": unit,
                                                           "area_dm2": 6000 + i % 9000, "commitment": bytes(32)}),
                self._fee(c)))))
        return out

    def _monthly(self, ts: int) -> list[tuple[SignedTx, Receipt]]:
        month = schema.month_of(ts)
        if month == self.month_billed:
            return []
        self.month_billed = month
        out = []
        for r in self.residents:
            bid = self.next_bill
            self.next_bill += 1
            self.unpaid.setdefault(r.address, []).append(bid)
            stx = self._tx(self.company, "property", "issue_bill", (r.address, month, []))
            out.append((stx, Receipt(stx.hash, STATUS_OK, 9000, 9, bid, (
                Event("property", "BillIssued", {"id": bid, "household": r.address, "period": month,
                                                 "total": 2000 + bid % 500}), self._fee(self.company)))))
        self.proposal += 1
        c = self.committees[self.proposal % COMMITTEES]
        stx = self._tx(c, "governance", "propose_owners", (4, f"Matter {self.proposal}", bytes(32)))
        out.append((stx, Receipt(stx.hash, STATUS_OK, 9000, 9, self.proposal, (
            Event("governance", "ProposalCreated", {"id": self.proposal, "kind": "owners", "proposer": c.address,
                                                    "closes": self.height + 100_800, "title": f"Matter {self.proposal}"}),
            self._fee(c)))))
        for _ in range(4):
            self.notices += 1
            stx = self._tx(c, "notices", "post", (f"Notice {self.notices}", bytes(32)))
            out.append((stx, Receipt(stx.hash, STATUS_OK, 5000, 5, self.notices, (
                Event("notices", "NoticePosted", {"id": self.notices, "by": c.address,
                                                  "title": f"Notice {self.notices}", "content_hash": bytes(32)}),
                self._fee(c)))))
        return out

    def _daily_life(self) -> tuple[SignedTx, Receipt]:
        rng = self.rng
        r = rng.choice(self.residents)
        x = rng.random()
        if x < 0.03:
            stx = self._tx(r, "services", "complete", (999_999,))
            return stx, Receipt(stx.hash, STATUS_FAILED, 2000, 2, None, (self._fee(r),), "not_found", "no such request")
        if x < 0.38:
            to, amount = rng.choice(self.residents).address, rng.randrange(1, 200)
            stx = self._tx(r, "token", "transfer", (to, amount))
            return stx, Receipt(stx.hash, STATUS_OK, 3500, 4, True, (
                Event("token", "Transfer", {"sender": r.address, "to": to, "amount": amount}), self._fee(r)))
        if x < 0.50 and self.works:
            wid = rng.randrange(1, self.works + 1)
            creator = self.residents[wid % HOUSEHOLDS].address
            stx = self._tx(r, "culture", "like", (wid,))
            ev = [Event("token", "Mint", {"to": creator, "amount": 1, "minter": "culture"}),
                  Event("culture", "Liked", {"id": wid, "by": r.address, "reward": 1}), self._fee(r, True)]
            return stx, Receipt(stx.hash, STATUS_OK, 6000, 6, 1, tuple(ev))
        if x < 0.60 and self.notices:
            nid = rng.randrange(max(1, self.notices - 8), self.notices + 1)
            if (nid, r.address) not in self.read:
                self.read.add((nid, r.address))
                stx = self._tx(r, "notices", "acknowledge", (nid,))
                return stx, Receipt(stx.hash, STATUS_OK, 3000, 3, 1, (
                    Event("notices", "NoticeAcknowledged", {"id": nid, "resident": r.address}), self._fee(r, True)))
        if x < 0.68:
            m, amount = rng.choice(self.merchants).address, rng.randrange(10, 500)
            stx = self._tx(r, "merchants", "purchase", (m, amount, f"o{r.nonce}"))
            return stx, Receipt(stx.hash, STATUS_OK, 9000, 9, amount // 100, (
                Event("token", "Transfer", {"sender": r.address, "to": "merchants", "amount": amount}),
                Event("token", "Transfer", {"sender": "merchants", "to": m, "amount": amount - amount // 100}),
                Event("merchants", "MerchantPaid", {"merchant": m, "payer": r.address, "amount": amount,
                                                    "fee": amount // 100, "order_ref": f"o{r.nonce}"}), self._fee(r)))
        if x < 0.76 and self.unpaid.get(r.address):
            bid = self.unpaid[r.address].pop(0)
            stx = self._tx(r, "property", "pay_bill", (bid,))
            return stx, Receipt(stx.hash, STATUS_OK, 7000, 7, None, (
                Event("token", "Transfer", {"sender": r.address, "to": self.company.address, "amount": 2000}),
                Event("property", "BillPaid", {"id": bid, "household": r.address, "payer": r.address,
                                               "method": "points", "amount": 2000, "reference": ""}), self._fee(r)))
        if x < 0.81 and self.proposal and (self.proposal, r.address) not in self.voted:
            self.voted.add((self.proposal, r.address))
            stx = self._tx(r, "governance", "vote", (self.proposal, "yes"))
            return stx, Receipt(stx.hash, STATUS_OK, 4400, 4, None, (
                Event("governance", "Voted", {"id": self.proposal, "voter": r.address, "choice": "yes",
                                              "area_dm2": 6000 + self.residents.index(r) % 9000}), self._fee(r, True)))
        if x < 0.86:
            period = schema.month_of(START_MS + self.height * self.block_ms)
            stx = self._tx(r, "property", "rate", (period, rng.randrange(1, 6)))
            return stx, Receipt(stx.hash, STATUS_OK, 4000, 4, None, (
                Event("property", "Rated", {"period": period, "household": r.address,
                                            "score": stx.tx.args[1]}), self._fee(r, True)))
        if x < 0.91:
            if self.requests and rng.random() < 0.6:
                rid = self.requests.pop(0)
                stx = self._tx(self.provider, "services", "offer", (rid, 700))
                ev = [Event("services", "Offered", {"id": rid, "provider": self.provider.address, "price": 700}),
                      Event("services", "Completed" if rid % 7 else "Disputed",
                            {"id": rid, "provider": self.provider.address, "amount": 700}
                            if rid % 7 else {"id": rid, "by": r.address, "reason_hash": bytes(32)})]
                return stx, Receipt(stx.hash, STATUS_OK, 8000, 8, None, (*ev, self._fee(self.provider)))
            rid = self.next_request
            self.next_request += 1
            self.requests.append(rid)
            stx = self._tx(r, "services", "request", (["plumbing", "repair", "cleaning"][rid % 3], bytes(32), 900))
            return stx, Receipt(stx.hash, STATUS_OK, 8000, 8, rid, (
                Event("services", "Requested", {"id": rid, "requester": r.address, "category": stx.tx.args[0],
                                                "budget": 900}), self._fee(r)))
        if x < 0.93:
            self.works += 1
            stx = self._tx(r, "culture", "register_work", (bytes(32), f"Work {self.works}", "photography", 100))
            self.residents[self.works % HOUSEHOLDS] = self.residents[self.works % HOUSEHOLDS]
            return stx, Receipt(stx.hash, STATUS_OK, 8000, 8, self.works, (
                Event("culture", "WorkRegistered", {"id": self.works, "creator": r.address,
                                                    "content_hash": bytes(32), "kind": "photography"}), self._fee(r)))
        stx = self._tx(r, "activities", "confirm", (1, [r.address]))
        return stx, Receipt(stx.hash, STATUS_OK, 6000, 6, 10, (
            Event("token", "Mint", {"to": r.address, "amount": 10, "minter": "activities"}),
            Event("activities", "AttendanceConfirmed", {"id": 1, "resident": r.address, "reward": 10}), self._fee(r)))

    def chain(self) -> Iterator[VerifiedRecord]:
        pending = self.setup()
        made = len(pending)
        while made < self.total_txs or pending:
            self.height += 1
            ts = START_MS + self.height * self.block_ms
            block = pending[:TXS_PER_BLOCK]
            pending = pending[TXS_PER_BLOCK:]
            if not pending and made < self.total_txs:
                pending = self._monthly(ts)
                made += len(pending)
            while len(block) < TXS_PER_BLOCK and made < self.total_txs:
                block.append(self._daily_life())
                made += 1
            yield VerifiedRecord(
                height=self.height, block_hash=sha256(b"bench%d" % self.height).hex(),
                state_root="00" * 32, timestamp_ms=ts, proposer="11" * 32, view=0, signers=3,
                txs=[t for t, _ in block], receipts=[r for _, r in block])


def bench_index(url: str, total_txs: int) -> tuple[Indexer, dict[str, float]]:
    engine = schema.make_engine(url)
    with engine.begin() as conn:  # a fresh database each run
        for table in reversed(schema.metadata.sorted_tables):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table.name} CASCADE" if engine.dialect.name == "postgresql"
                                 else f"DROP TABLE IF EXISTS {table.name}"))
        for view in fg.VIEWS:
            conn.execute(sa.text(f"DROP VIEW IF EXISTS {view}"))
    trusted = ValidatorSet((Validator(b"\x01" * 32, "bench"),))
    ix = Indexer(engine, None, {"chain_id": CHAIN_ID}, trusted)  # type: ignore[arg-type]
    ix.open()
    district = District(total_txs)
    genesis = {"height": 0, "hash": sha256(b"genesis").hex()}
    gen_s = write_s = 0.0
    rows = txs = 0
    batch: list[VerifiedRecord] = [VerifiedRecord(0, genesis["hash"], "00" * 32, START_MS, "11" * 32, 0, 0, [], [])]
    t0 = time.perf_counter()
    it = district.chain()
    done = False
    while not done:
        g = time.perf_counter()
        while len(batch) < BATCH_BLOCKS:
            nxt = next(it, None)
            if nxt is None:
                done = True
                break
            batch.append(nxt)
        gen_s += time.perf_counter() - g
        if batch:
            w = time.perf_counter()
            rows += ix.write_batch(batch, genesis["hash"])
            write_s += time.perf_counter() - w
            txs += sum(len(b.txs) for b in batch)
            batch = []
            print(f"\r  {txs:,} txs, {rows:,} rows, {rows / write_s:,.0f} rows/s", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return ix, {"txs": txs, "rows": rows, "write_s": write_s, "gen_s": gen_s, "wall_s": time.perf_counter() - t0,
                "blocks": district.height + 1}


def bench_queries(engine: sa.engine.Engine, repeat: int) -> list[tuple[str, str, float, float, int]]:
    with engine.connect() as conn:
        committee = str(conn.execute(sa.select(schema.residents.c.committee).limit(1)).scalar())
    out = []
    for f in fg.FIGURES:
        for scope in (fg.DISTRICT, committee):
            times = []
            n = 0
            for _ in range(repeat):
                t = time.perf_counter()
                with engine.connect() as conn:
                    n = len(fg.read(conn, f, scope))
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            out.append((f.name, "district" if scope == fg.DISTRICT else "committee", statistics.median(times), p95, n))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", action="append", required=True, help="database URL (repeat for several)")
    ap.add_argument("--txs", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=20, help="runs of each dashboard query")
    ap.add_argument("--queries-only", action="store_true",
                    help="time the dashboard queries on the database as it is (indexed before)")
    ap.add_argument("--migrate", action="store_true",
                    help="with --queries-only: first bring the database to this code's schema (timed)")
    args = ap.parse_args()
    for url in args.db:
        if args.queries_only:
            engine = schema.make_engine(url)
            if args.migrate:
                t = time.perf_counter()
                version = schema.migrate(engine)
                print(f"== {engine.dialect.name}: at schema version {version} ({time.perf_counter() - t:.1f} s to migrate)")
            with engine.connect() as conn:
                n = conn.execute(sa.select(sa.func.count()).select_from(schema.txs)).scalar()
            print(f"== {engine.dialect.name}: {n:,} txs indexed")
            print(f"   {'figure':<18} {'scope':<10} {'p50 ms':>8} {'p95 ms':>8} {'rows':>6}")
            for fname, scope, p50, p95, rows in bench_queries(engine, args.repeat):
                print(f"   {fname:<18} {scope:<10} {p50:>8.1f} {p95:>8.1f} {rows:>6}")
            engine.dispose()
            continue
        ix, r = bench_index(url, args.txs)
        name = ix.engine.dialect.name
        print(f"== {name}: indexed {r['txs']:,} txs in {r['blocks']:,} blocks: {r['rows']:,} rows in "
              f"{r['write_s']:.1f} s of database writes = {r['txs'] / r['write_s']:,.0f} txs/s, "
              f"{r['rows'] / r['write_s']:,.0f} rows/s (generating the blocks took {r['gen_s']:.1f} s more)")
        print(f"   {'figure':<18} {'scope':<10} {'p50 ms':>8} {'p95 ms':>8} {'rows':>6}")
        for fname, scope, p50, p95, n in bench_queries(ix.engine, args.repeat):
            print(f"   {fname:<18} {scope:<10} {p50:>8.1f} {p95:>8.1f} {n:>6}")
        ix.engine.dispose()


if __name__ == "__main__":
    main()
