"""From a verified block to rows: the chain tables (blocks, txs, receipts, events) and the
projections of the contracts' events that the figures are views over.

``BatchWriter`` works inside one database transaction (the indexer's batch). Append-only
rows (the chain tables and token moves) are gathered and inserted in bulk at ``flush``;
projection rows that later events update (a bill paid, a request completed) are written
at once, so an update in the same batch finds its row. Lookups of who belongs to which
committee are cached for the life of the writer only, so a rolled-back batch leaves no
stale cache behind.

Which event feeds which table, and the conventions (a household's estate is its unit's
label up to the first "-"; a committee is known by the address of the member who granted
the resident role or registered the household), are in docs/ANALYTICS.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from analytics import schema as s
from core.codec import Value
from core.render import value_to_json
from core.types import STATUS_INVALID, Receipt, SignedTx

UNKNOWN = ""  # committee or estate the chain does not tell
DISTRICT = s.DISTRICT
PERIOD_MONTH = re.compile(r"^(\d{4})-(\d{2})")


def estate_of(unit: str) -> str:
    """The estate of a unit label such as "Garden-T1-0302": the part before the first "-"."""
    return unit.split("-", 1)[0] if "-" in unit else unit


@dataclass(frozen=True)
class VerifiedRecord:
    """One block the indexer verified, with what the projections need of it."""

    height: int
    block_hash: str
    state_root: str
    timestamp_ms: int
    proposer: str
    view: int
    signers: int
    txs: list[SignedTx]
    receipts: list[Receipt]


@dataclass
class _Ctx:
    height: int
    tx_index: int
    ev_index: int
    ts_ms: int
    month: str
    tx: SignedTx

    @property
    def sender(self) -> str:
        return self.tx.tx.sender_address


def _str(fields: Mapping[str, Value], key: str) -> str:
    v = fields.get(key)
    return v if isinstance(v, str) else ("0x" + v.hex() if isinstance(v, bytes) else str(v))


def _int(fields: Mapping[str, Value], key: str) -> int:
    v = fields.get(key)
    return v if type(v) is int else 0


@dataclass
class Cache:
    """Lookups the projections make again and again (whose committee an account is, a
    household's estate, the last company that billed it), kept across batches. The
    indexer clears it when a batch fails, so it never holds what was rolled back."""

    committee: dict[str, str | None]
    household: dict[str, tuple[str, str] | None]
    company: dict[str, str]
    work: dict[int, str]  # a culture work's committee

    @classmethod
    def empty(cls) -> Cache:
        return cls({}, {}, {}, {})

    def clear(self) -> None:
        self.committee.clear()
        self.household.clear()
        self.company.clear()
        self.work.clear()


class BatchWriter:
    """Writes the rows of verified blocks within one transaction of ``conn``."""

    def __init__(self, conn: Connection, cache: Cache | None = None, *, first_ts_ms: int = 0) -> None:
        """``first_ts_ms``: the earliest block time of the batch (where its rollups start)."""
        self.conn = conn
        self.rows = 0
        self._pending: dict[sa.Table, list[dict[str, Any]]] = {}
        self._moves_of_tx: dict[tuple[int, int], list[dict[str, Any]]] = {}
        cache = cache or Cache.empty()
        self._committee = cache.committee
        self._households = cache.household
        self._company = cache.company
        self._works = cache.work
        self._r_txs = Rollup(s.agg_txs_day, s.seen_txs_day, s.day_of(first_ts_ms))
        self._r_active = Rollup(s.agg_active_week, s.seen_active_week, s.week_of(first_ts_ms))
        self._r_points = Rollup(s.agg_points_month, s.seen_points_month, s.month_of(first_ts_ms))
        self._r_source = Rollup(s.agg_points_source, s.seen_points_source, s.month_of(first_ts_ms))
        self._r_culture = Rollup(s.agg_culture_month, s.seen_culture_month, s.month_of(first_ts_ms))
        self._r_fees = Rollup(s.agg_fees_month, s.seen_fees_month, None)
        self._r_requests = Rollup(s.agg_requests, s.seen_requests, None)
        # What flush recounts: the months of the ratings written or replaced, the owners'
        # proposals made or voted on, and those a household's change reaches (made at
        # _turnout_since or later; all of them when an area or a re-registration changes
        # the electorate of proposals already made).
        self._rated_months: set[str] = set()
        self._turnout_ids: set[int] = set()
        self._turnout_since: int | None = None
        self._turnout_all = False
        self._upsert_ignore = (sqlite_insert if conn.dialect.name == "sqlite" else pg_insert)
        self._handlers: dict[tuple[str, str], Callable[[_Ctx, Mapping[str, Value]], None]] = {
            ("roles", "RoleGranted"): self._role_granted,
            ("roles", "RoleRevoked"): self._role_revoked,
            ("households", "HouseholdRegistered"): self._household_registered,
            ("households", "HouseholdUpdated"): self._household_updated,
            ("households", "HouseholdRemoved"): self._household_removed,
            ("governance", "ProposalCreated"): self._proposal_created,
            ("governance", "Voted"): self._voted,
            ("property", "BillIssued"): self._bill_issued,
            ("property", "BillPaid"): self._bill_paid,
            ("property", "Rated"): self._property_rated,
            ("services", "Requested"): self._requested,
            ("services", "Offered"): self._offered,
            ("services", "Accepted"): self._accepted,
            ("services", "Completed"): self._completed,
            ("services", "Disputed"): self._disputed,
            ("services", "Cancelled"): self._cancelled,
            ("services", "ProviderRated"): self._provider_rated,
            ("token", "Mint"): self._mint,
            ("token", "Transfer"): self._transfer,
            ("token", "Burn"): self._burn,
            ("token", "Fee"): self._fee,
            ("merchants", "MerchantPaid"): self._merchant_paid,
            ("activities", "ActivityProposed"): self._activity_proposed,
            ("activities", "AttendanceConfirmed"): self._attendance_confirmed,
            ("culture", "WorkRegistered"): self._work_registered,
            ("culture", "Liked"): self._liked,
            ("notices", "NoticePosted"): self._notice_posted,
            ("notices", "NoticeAcknowledged"): self._notice_acknowledged,
        }

    # --- the chain tables -------------------------------------------------------------------

    def _add(self, table: sa.Table, row: dict[str, Any] | list[dict[str, Any]]) -> None:
        rows = self._pending.setdefault(table, [])
        if isinstance(row, list):
            rows.extend(row)
        else:
            rows.append(row)

    def write_block(self, b: VerifiedRecord) -> None:
        day, week, month = s.day_of(b.timestamp_ms), s.week_of(b.timestamp_ms), s.month_of(b.timestamp_ms)
        self._add(s.blocks, {
            "height": b.height, "hash": b.block_hash, "state_root": b.state_root,
            "ts_ms": b.timestamp_ms, "day": day, "proposer": b.proposer, "view": b.view,
            "tx_count": len(b.txs), "signers": b.signers,
        })
        for i, (stx, r) in enumerate(zip(b.txs, b.receipts, strict=True)):
            t = stx.tx
            tx_hash = stx.hash.hex()
            # Who the sender is when the tx runs (before its own events change that).
            sender = t.sender_address
            committee = self.committee_of(sender)
            kind = f"{t.contract}.{t.method}"
            for scope in (DISTRICT, committee) if committee is not None else (DISTRICT,):
                self._r_txs.add(self.conn, (day, scope, kind), sender, txs=1)
                if committee is not None and r.status != STATUS_INVALID:
                    self._r_active.add(self.conn, (week, scope), sender)
            self._add(s.txs, {
                "hash": tx_hash, "height": b.height, "idx": i, "sender": t.sender_address,
                "nonce": t.nonce, "contract": t.contract, "method": t.method,
                "kind": f"{t.contract}.{t.method}", "status": r.status, "day": day, "week": week,
            })
            self._add(s.receipts, {
                "tx_hash": tx_hash, "status": r.status, "gas_used": r.gas_used, "fee": r.fee,
                "result": None if r.result is None else json.dumps(value_to_json(r.result), ensure_ascii=False),
                "error_code": r.error_code, "error_contract": r.error_contract,
                "error_line": r.error_line,
            })
            for j, e in enumerate(r.events):
                self._add(s.events, {
                    "height": b.height, "tx_index": i, "ev_index": j, "tx_hash": tx_hash,
                    "contract": e.contract, "name": e.name,
                    "fields": json.dumps(value_to_json(e.fields), ensure_ascii=False, sort_keys=True),
                })
                handler = self._handlers.get((e.contract, e.name))
                if handler is not None:
                    handler(_Ctx(b.height, i, j, b.timestamp_ms, month, stx), e.fields)

    def seed_residents(self, grants: list[tuple[str, str]]) -> None:
        """Residents granted in genesis (no block event tells of them)."""
        for address, committee in grants:
            self._upsert_resident(address, committee, 0)

    def flush(self) -> int:
        """Insert the gathered rows; the number of rows written by this writer so far."""
        for m in self._pending.get(s.token_moves, []):
            self._roll_move(m)
        for table in list(self._pending):
            self._need(table)
        self._moves_of_tx.clear()
        for r in (self._r_txs, self._r_active, self._r_points, self._r_source, self._r_culture, self._r_fees,
                  self._r_requests):
            self.rows += r.flush(self.conn)
        if self._rated_months:
            s.refresh_satisfaction(self.conn, self._rated_months)
        s.refresh_turnout(self.conn, self._turnout_ids, self._turnout_since, self._turnout_all)
        self._rated_months.clear()
        self._turnout_ids.clear()
        self._turnout_since, self._turnout_all = None, False
        return self.rows

    def _roll_move(self, m: dict[str, Any]) -> None:
        committee, kind, amount = m["committee"], m["kind"], m["amount"]
        person = (m["dst"] if kind == "mint" else m["src"]) if committee is not None else None
        sums = {"mint": {"minted": amount}, "burn": {"burned": amount}, "fee": {"fees": amount},
                "transfer": {"volume": amount, "spent": amount if committee is not None else 0,
                             "at_merchants": amount if m["at_merchant"] else 0}}[kind]
        for scope in (DISTRICT, committee) if committee is not None else (DISTRICT,):
            self._r_points.add(self.conn, (m["month"], scope), person, **sums)
            if kind == "mint":
                self._r_source.add(self.conn, (m["month"], scope, m["source"] or ""), m["dst"],
                                   minted=amount, mints=1)

    def _need(self, table: sa.Table) -> None:
        """Insert ``table``'s gathered rows now: a read or update of it follows."""
        rows = self._pending.pop(table, None)
        if rows:
            if table in (s.likes, s.notice_reads):  # once each by contract; idempotent anyway
                self.conn.execute(self._upsert_ignore(table).on_conflict_do_nothing(), rows)
            else:
                self.conn.execute(sa.insert(table), rows)
            self.rows += len(rows)

    # --- lookups --------------------------------------------------------------------------

    def committee_of(self, address: str) -> str | None:
        """The committee of a resident or household; None for other accounts."""
        if address in self._committee:
            return self._committee[address]
        self._need(s.residents)
        self._need(s.households)
        row = self.conn.execute(
            sa.select(s.residents.c.committee).where(s.residents.c.address == address)).first()
        if row is None:
            row = self.conn.execute(
                sa.select(s.households.c.committee).where(s.households.c.address == address)).first()
        found = None if row is None else str(row[0])
        self._committee[address] = found
        return found

    def _household(self, address: str) -> tuple[str, str] | None:
        if address in self._households:
            return self._households[address]
        self._need(s.households)
        row = self.conn.execute(sa.select(s.households.c.estate, s.households.c.committee)
                                .where(s.households.c.address == address)).first()
        found = None if row is None else (str(row[0]), str(row[1]))
        self._households[address] = found
        return found

    def _exec(self, stmt: sa.Executable) -> None:
        self.conn.execute(stmt)
        self.rows += 1

    # --- residents and households -----------------------------------------------------------

    def _upsert_resident(self, address: str, committee: str, ts_ms: int) -> None:
        r = s.residents
        exists = self.conn.execute(sa.select(r.c.address).where(r.c.address == address)).first()
        if exists is None:
            self._exec(sa.insert(r).values(address=address, committee=committee, granted_ms=ts_ms,
                                           revoked_ms=None))
        else:
            self._exec(sa.update(r).where(r.c.address == address)
                       .values(committee=committee, granted_ms=ts_ms, revoked_ms=None))
        self._committee[address] = committee

    def _role_granted(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        if _str(f, "role") == "resident":
            self._upsert_resident(_str(f, "address"), _str(f, "by"), c.ts_ms)

    def _role_revoked(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        if _str(f, "role") == "resident":
            r = s.residents
            self._exec(sa.update(r).where(r.c.address == _str(f, "address")).values(revoked_ms=c.ts_ms))

    def _household_registered(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        h = s.households
        address, unit = _str(f, "address"), _str(f, "unit")
        values: dict[str, Any] = {"unit": unit, "estate": estate_of(unit), "area_dm2": _int(f, "area_dm2"),
                  "committee": c.sender, "registered_ms": c.ts_ms, "removed_ms": None}
        if self.conn.execute(sa.select(h.c.address).where(h.c.address == address)).first() is None:
            self._exec(sa.insert(h).values(address=address, **values))
            self._turnout_from(c.ts_ms)  # joins the electorates of proposals made in this very block time
        else:  # registered again after a removal: it leaves the electorates of the proposals before
            self._exec(sa.update(h).where(h.c.address == address).values(**values))
            self._turnout_all = True
        self._committee.pop(address, None)
        self._households[address] = (estate_of(unit), c.sender)

    def _household_updated(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        h = s.households
        self._exec(sa.update(h).where(h.c.address == _str(f, "address")).values(area_dm2=_int(f, "area_dm2")))
        self._turnout_all = True  # the views count a household's area as it is now

    def _household_removed(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        h = s.households
        self._exec(sa.update(h).where(h.c.address == _str(f, "address")).values(removed_ms=c.ts_ms))
        self._turnout_from(c.ts_ms)

    def _turnout_from(self, ts_ms: int) -> None:
        self._turnout_since = ts_ms if self._turnout_since is None else min(self._turnout_since, ts_ms)

    # --- governance ---------------------------------------------------------------------------

    def _proposal_created(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        kind = _str(f, "kind")
        total_owners = total_area = 0
        category: int | None = None
        if kind == "owners":
            # The register's totals when the proposal was made, as governance snapshots them.
            h = s.households
            total_owners, total_area = self.conn.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(h.c.area_dm2), 0))
                .where(h.c.removed_ms.is_(None))).one()
            t = c.tx.tx
            if t.contract == "governance" and t.method == "propose_owners" and t.args and type(t.args[0]) is int:
                category = t.args[0]
        proposer = _str(f, "proposer")
        self._exec(sa.insert(s.proposals).values(
            id=_int(f, "id"), kind=kind, category=category, proposer=proposer,
            committee=self.committee_of(c.sender), title=_str(f, "title"), created_height=c.height,
            created_ms=c.ts_ms, closes_height=_int(f, "closes"), total_owners=int(total_owners),
            total_area=int(total_area), voted_heads=0, voted_area=0, quorum_height=None, quorum_ms=None))
        if kind == "owners":
            self._turnout_ids.add(_int(f, "id"))

    def _voted(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        p, v = s.proposals, s.votes
        pid, voter, area = _int(f, "id"), _str(f, "voter"), _int(f, "area_dm2")
        old = self.conn.execute(sa.select(v.c.area_dm2).where(v.c.proposal_id == pid, v.c.voter == voter)).first()
        if old is None:
            self._exec(sa.insert(v).values(proposal_id=pid, voter=voter, choice=_str(f, "choice"),
                                           area_dm2=area, ts_ms=c.ts_ms))
            d_heads, d_area = 1, area
        else:  # a new vote replaces the old one
            self._exec(sa.update(v).where(v.c.proposal_id == pid, v.c.voter == voter)
                       .values(choice=_str(f, "choice"), area_dm2=area, ts_ms=c.ts_ms))
            d_heads, d_area = 0, area - int(old[0])
        row = self.conn.execute(sa.select(p.c.kind, p.c.total_owners, p.c.total_area, p.c.voted_heads,
                                          p.c.voted_area, p.c.quorum_ms).where(p.c.id == pid)).first()
        if row is None or row.kind != "owners":
            return
        self._turnout_ids.add(pid)
        heads, area_sum = row.voted_heads + d_heads, row.voted_area + d_area
        values: dict[str, Any] = {"voted_heads": heads, "voted_area": area_sum}
        # Article 278 quorum: 2/3 of the owners and of the area, in exact integers.
        if row.quorum_ms is None and heads * 3 >= row.total_owners * 2 and area_sum * 3 >= row.total_area * 2:
            values.update(quorum_height=c.height, quorum_ms=c.ts_ms)
        self._exec(sa.update(p).where(p.c.id == pid).values(**values))

    # --- property -----------------------------------------------------------------------------

    def _bill_issued(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        household, period = _str(f, "household"), _str(f, "period")
        estate, committee = self._household(household) or (UNKNOWN, UNKNOWN)
        m = PERIOD_MONTH.match(period)
        month = f"{m.group(1)}-{m.group(2)}" if m and 1 <= int(m.group(2)) <= 12 else c.month
        self._add(s.bills, {
            "id": _int(f, "id"), "household": household, "estate": estate, "committee": committee,
            "company": c.sender, "period": period, "month": month, "total": _int(f, "total"),
            "issued_ms": c.ts_ms, "paid_ms": None, "method": None})
        self._company[household] = c.sender
        for scope in ((month, committee, estate), (month, DISTRICT, estate), (month, DISTRICT, DISTRICT)):
            self._r_fees.add(self.conn, scope, household, bills=1, billed=_int(f, "total"))

    def _bill_paid(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        b = s.bills
        self._need(b)
        bid = _int(f, "id")
        row = self.conn.execute(sa.select(b.c.month, b.c.committee, b.c.estate, b.c.total, b.c.paid_ms)
                                .where(b.c.id == bid)).first()
        self._exec(sa.update(b).where(b.c.id == bid).values(paid_ms=c.ts_ms, method=_str(f, "method")))
        if row is not None and row.paid_ms is None:
            for scope in ((row.month, row.committee, row.estate), (row.month, DISTRICT, row.estate),
                          (row.month, DISTRICT, DISTRICT)):
                self._r_fees.add(self.conn, scope, None, paid=int(row.total))

    def _upsert_rating(self, kind: str, ref: str, rater: str, values: dict[str, Any]) -> None:
        r = s.ratings
        self._need(r)
        where = (r.c.kind == kind, r.c.ref == ref, r.c.rater == rater)
        old = self.conn.execute(sa.select(r.c.month).where(*where)).first()
        if old is None:
            self._exec(sa.insert(r).values(kind=kind, ref=ref, rater=rater, **values))
        else:  # the rating replaced leaves its month's figures
            self._exec(sa.update(r).where(*where).values(**values))
            self._rated_months.add(str(old[0]))
        self._rated_months.add(values["month"])

    def _property_rated(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        household = _str(f, "household")
        company = self._company.get(household)
        if company is None:
            b = s.bills
            self._need(b)
            company = self.conn.execute(sa.select(b.c.company).where(b.c.household == household)
                                        .order_by(b.c.id.desc()).limit(1)).scalar()
        self._upsert_rating("property", _str(f, "period"), household, {
            "subject": company or UNKNOWN, "category": "property",
            "committee": self.committee_of(household) or UNKNOWN, "score": _int(f, "score"),
            "month": c.month})

    # --- services -----------------------------------------------------------------------------

    def _requested(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        requester = _str(f, "requester")
        committee, category = self.committee_of(requester) or UNKNOWN, _str(f, "category")
        self._add(s.service_requests, {
            "id": _int(f, "id"), "requester": requester, "committee": committee,
            "category": category, "budget": _int(f, "budget"), "requested_ms": c.ts_ms,
            "first_offer_ms": None, "provider": None, "accepted_ms": None, "completed_ms": None,
            "disputed_ms": None, "cancelled_ms": None})
        self._roll_request(committee, category, requester, requests=1)

    def _roll_request(self, committee: str, category: str, requester: str | None, **sums: int) -> None:
        for scope in ((committee, category), (DISTRICT, category), (DISTRICT, DISTRICT)):
            self._r_requests.add(self.conn, scope, requester, **sums)

    def _request_row(self, rid: int) -> Any:
        r = s.service_requests
        self._need(r)
        return self.conn.execute(sa.select(r.c.committee, r.c.category, r.c.requested_ms, r.c.first_offer_ms,
                                           r.c.completed_ms, r.c.disputed_ms).where(r.c.id == rid)).first()

    def _set_request(self, rid: int, only_if_null: str | None = None, **values: Any) -> None:
        r = s.service_requests
        self._need(r)
        stmt = sa.update(r).where(r.c.id == rid)
        if only_if_null is not None:
            stmt = stmt.where(r.c[only_if_null].is_(None))
        self._exec(stmt.values(**values))

    # The rollup takes each change as the row takes it: the first offer and the first
    # dispute once, the completion's latest time (a second one replaces the first).
    def _offered(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        rid = _int(f, "id")
        row = self._request_row(rid)
        if row is not None and row.first_offer_ms is None:
            self._roll_request(row.committee, row.category, None, offered=1,
                               to_offer_ms=c.ts_ms - int(row.requested_ms))
        self._set_request(rid, "first_offer_ms", first_offer_ms=c.ts_ms)

    def _accepted(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        self._set_request(_int(f, "id"), accepted_ms=c.ts_ms, provider=_str(f, "provider"))

    def _completed(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        rid = _int(f, "id")
        row = self._request_row(rid)
        if row is not None:
            before = None if row.completed_ms is None else int(row.completed_ms)
            self._roll_request(row.committee, row.category, None, completed=1 if before is None else 0,
                               to_complete_ms=c.ts_ms - (int(row.requested_ms) if before is None else before))
        self._set_request(rid, completed_ms=c.ts_ms)

    def _disputed(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        rid = _int(f, "id")
        row = self._request_row(rid)
        if row is not None and row.disputed_ms is None:
            self._roll_request(row.committee, row.category, None, disputed=1)
        self._set_request(rid, "disputed_ms", disputed_ms=c.ts_ms)

    def _cancelled(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        self._set_request(_int(f, "id"), cancelled_ms=c.ts_ms)

    def _provider_rated(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        r = s.service_requests
        self._need(r)
        rid = _int(f, "id")
        row = self.conn.execute(sa.select(r.c.requester, r.c.category, r.c.committee).where(r.c.id == rid)).first()
        requester, category, committee = (str(row[0]), str(row[1]), str(row[2])) if row else (c.sender, UNKNOWN, UNKNOWN)
        self._upsert_rating("service", str(rid), requester, {
            "subject": _str(f, "provider"), "category": category, "committee": committee,
            "score": _int(f, "score"), "month": c.month})

    # --- the points economy ---------------------------------------------------------------

    def _move(self, c: _Ctx, kind: str, src: str | None, dst: str | None, amount: int,
              source: str | None, committee: str | None) -> None:
        move = {
            "height": c.height, "tx_index": c.tx_index, "ev_index": c.ev_index, "kind": kind,
            "src": src, "dst": dst, "amount": amount, "source": source, "at_merchant": False,
            "committee": committee, "month": c.month}
        self._add(s.token_moves, move)
        self._moves_of_tx.setdefault((c.height, c.tx_index), []).append(move)

    def _mint(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        to = _str(f, "to")
        self._move(c, "mint", None, to, _int(f, "amount"), _str(f, "minter"), self.committee_of(to))

    def _transfer(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        src = _str(f, "sender")
        self._move(c, "transfer", src, _str(f, "to"), _int(f, "amount"), None, self.committee_of(src))

    def _burn(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        acc = _str(f, "account")
        self._move(c, "burn", acc, None, _int(f, "amount"), None, self.committee_of(acc))

    def _fee(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        payer = _str(f, "payer")
        self._move(c, "fee", payer, None, _int(f, "amount"), None, self.committee_of(payer))

    def _same_tx_moves(self, c: _Ctx) -> list[dict[str, Any]]:
        return self._moves_of_tx.get((c.height, c.tx_index), [])

    def _merchant_paid(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        # merchants.pay collects the amount from the payer into the contract (a Transfer
        # before this event in the same tx): that transfer is the spending at a merchant.
        payer, amount = _str(f, "payer"), _int(f, "amount")
        for m in self._same_tx_moves(c):
            if m["kind"] == "transfer" and m["src"] == payer and m["dst"] == "merchants" and m["amount"] == amount:
                m["at_merchant"] = True
                break

    def _activity_proposed(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        self._add(s.activities, {"id": _int(f, "id"), "kind": _str(f, "kind"), "organiser": _str(f, "organiser")})

    def _attendance_confirmed(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        # The reward was minted just before this event; name its source by activity kind.
        if _int(f, "reward") <= 0:
            return
        self._need(s.activities)
        kind = self.conn.execute(sa.select(s.activities.c.kind).where(s.activities.c.id == _int(f, "id"))).scalar()
        who = _str(f, "resident")
        for m in reversed(self._same_tx_moves(c)):
            if m["kind"] == "mint" and m["dst"] == who and m["source"] == "activities":
                m["source"] = f"activities:{kind or 'other'}"
                break

    # --- culture and notices ----------------------------------------------------------------

    def _work_registered(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        creator = _str(f, "creator")
        committee = self.committee_of(creator) or UNKNOWN
        self._add(s.works, {"id": _int(f, "id"), "creator": creator, "committee": committee,
                            "kind": _str(f, "kind"), "month": c.month})
        self._works[_int(f, "id")] = committee
        for scope in (DISTRICT, committee):
            self._r_culture.add(self.conn, (c.month, scope), creator, works=1)

    def _liked(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        wid, liker = _int(f, "id"), _str(f, "by")
        self._add(s.likes, {"work_id": wid, "liker": liker, "month": c.month})
        committee = self._works.get(wid)
        if committee is None:
            self._need(s.works)
            committee = self.conn.execute(sa.select(s.works.c.committee).where(s.works.c.id == wid)).scalar()
            committee = self._works[wid] = UNKNOWN if committee is None else str(committee)
        for scope in (DISTRICT, committee):
            self._r_culture.add(self.conn, (c.month, scope), liker, likes=1)
        if _int(f, "reward") > 0:
            for m in reversed(self._same_tx_moves(c)):
                if m["kind"] == "mint" and m["source"] == "culture":
                    m["source"] = "culture:like"
                    break

    def _notice_posted(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        nid = _int(f, "id")
        self._add(s.notices, {"id": nid, "author": _str(f, "by"), "month": c.month, "posted_ms": c.ts_ms})
        # The audience: the residents of each committee at this moment of the chain.
        r = s.residents
        per = {str(k): int(n) for k, n in self.conn.execute(
            sa.select(r.c.committee, sa.func.count()).where(r.c.revoked_ms.is_(None)).group_by(r.c.committee))}
        per[DISTRICT] = sum(per.values())
        self._add(s.notice_audience, [{"notice_id": nid, "committee": k, "residents": n, "readers": 0}
                                      for k, n in per.items()])

    def _notice_acknowledged(self, c: _Ctx, f: Mapping[str, Value]) -> None:
        # The contract takes one acknowledgement per resident and notice.
        nid, who = _int(f, "id"), _str(f, "resident")
        self._add(s.notice_reads, {"notice_id": nid, "resident": who, "ts_ms": c.ts_ms})
        # A reader counts if a resident when the notice was posted (as the audience was).
        self._need(s.notices)
        self._need(s.notice_audience)
        n, r = s.notices, s.residents
        row = self.conn.execute(
            sa.select(r.c.committee).select_from(r.join(n, n.c.id == nid))
            .where(r.c.address == who, r.c.granted_ms <= n.c.posted_ms,
                   sa.or_(r.c.revoked_ms.is_(None), r.c.revoked_ms > n.c.posted_ms))).first()
        if row is not None:
            a = s.notice_audience
            self._exec(sa.update(a).where(a.c.notice_id == nid, a.c.committee.in_([str(row[0]), DISTRICT]))
                       .values(readers=a.c.readers + 1))


# --- rollups ---------------------------------------------------------------------------------


class Rollup:
    """Sums and a distinct count per key of one agg_* table, gathered for a batch and
    merged into the table at ``flush``. Keys are tuples of the table's key columns, the
    bucket first. Who has been counted in a key lives in the seen_* table; a batch loads
    the rows of the buckets it may continue (from its first bucket on) the first time it
    touches the table."""

    def __init__(self, agg: sa.Table, seen: sa.Table, lo_bucket: str | None) -> None:
        """``lo_bucket``: the batch's first bucket, or None to load key by key."""
        self.agg, self.seen = agg, seen
        self.key_cols = [c.name for c in agg.primary_key.columns]
        self.person_col = [c.name for c in seen.primary_key.columns][-1]
        value_cols = [c.name for c in agg.columns if c.name not in self.key_cols]
        self.count_col, self.sum_cols = value_cols[0], value_cols[1:]
        self.lo = lo_bucket
        self._loaded = False
        self._keys_loaded: set[tuple[str, ...]] = set()
        self._seen: set[tuple[str, ...]] = set()
        self._existing: set[tuple[str, ...]] = set()
        self._delta: dict[tuple[str, ...], list[int]] = {}
        self._new_seen: list[tuple[str, ...]] = []

    def _load(self, conn: Connection, key: tuple[str, ...] | None = None) -> None:
        if key is None:
            bucket = self.key_cols[0]
            seen_where = [self.seen.c[bucket] >= self.lo]
            agg_where = [self.agg.c[bucket] >= self.lo]
        else:
            seen_where = [self.seen.c[c] == v for c, v in zip(self.key_cols, key, strict=True)]
            agg_where = [self.agg.c[c] == v for c, v in zip(self.key_cols, key, strict=True)]
        self._seen.update(tuple(r) for r in conn.execute(
            sa.select(*(self.seen.c[c] for c in [*self.key_cols, self.person_col])).where(*seen_where)))
        self._existing.update(tuple(r) for r in conn.execute(
            sa.select(*(self.agg.c[c] for c in self.key_cols)).where(*agg_where)))

    def add(self, conn: Connection, key: tuple[str, ...], person: str | None, **sums: int) -> None:
        if self.lo is None:
            if key not in self._keys_loaded:
                self._load(conn, key)
                self._keys_loaded.add(key)
        elif not self._loaded:
            self._load(conn)
            self._loaded = True
        d = self._delta.get(key)
        if d is None:
            d = self._delta[key] = [0] * (1 + len(self.sum_cols))
        if person is not None and (*key, person) not in self._seen:
            self._seen.add((*key, person))
            self._new_seen.append((*key, person))
            d[0] += 1
        for i, c in enumerate(self.sum_cols):
            d[1 + i] += sums.get(c, 0)

    def flush(self, conn: Connection) -> int:
        if self._new_seen:
            cols = [*self.key_cols, self.person_col]
            conn.execute(sa.insert(self.seen), [dict(zip(cols, r, strict=True)) for r in self._new_seen])
        value_cols = [self.count_col, *self.sum_cols]
        new = [{**dict(zip(self.key_cols, k, strict=True)), **dict(zip(value_cols, d, strict=True))}
               for k, d in self._delta.items() if k not in self._existing]
        old = [{**{f"k_{c}": v for c, v in zip(self.key_cols, k, strict=True)},
                **{f"d_{c}": v for c, v in zip(value_cols, d, strict=True)}}
               for k, d in self._delta.items() if k in self._existing]
        if new:
            conn.execute(sa.insert(self.agg), new)
        if old:
            t = self.agg
            conn.execute(
                sa.update(t).where(*(t.c[c] == sa.bindparam(f"k_{c}") for c in self.key_cols))
                .values({c: t.c[c] + sa.bindparam(f"d_{c}") for c in value_cols}), old)
        self._existing.update(self._delta)
        n = len(self._new_seen) + len(self._delta)
        self._delta.clear()
        self._new_seen.clear()
        return n
