"""The figures recounted straight from the chain: the pages of blocks a node serves (txs,
receipts, events) walked in plain Python, with the definitions of docs/ANALYTICS.md, no
SQL and nothing of analytics/ but the figure and column names. The tests compare the
database's views with this."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
FLOOR = 5
DAY_MS = 86_400_000
D = "*"


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, SHANGHAI)


def day(ms: int) -> str:
    return _dt(ms).date().isoformat()


def week(ms: int) -> str:
    y, w, _ = _dt(ms).isocalendar()
    return f"{y}-W{w:02d}"


def month(ms: int) -> str:
    return _dt(ms).strftime("%Y-%m")


def permille(a: int, b: int) -> int | None:
    return a * 1000 // b if b > 0 else None


def row(n: int, keys: dict[str, Any], **figures: Any) -> dict[str, Any]:
    ok = n >= FLOOR
    out = dict(keys)
    out["households"] = n if ok else None
    out["suppressed"] = 0 if ok else 1
    out.update({k: (v if ok else None) for k, v in figures.items()})
    return out


class Recount:
    def __init__(self, pages: list[dict[str, Any]], genesis: dict[str, Any]) -> None:
        self.now = max(p["header"]["timestamp_ms"] for p in pages)
        self.residents: dict[str, dict[str, Any]] = {}
        for g in genesis.get("roles", []):
            if g.get("role") == "resident":
                self.residents[g["address"]] = {"committee": "genesis", "granted": 0, "revoked": None}
        self.households: dict[str, dict[str, Any]] = {}
        self.txs: list[dict[str, Any]] = []
        self.proposals: dict[int, dict[str, Any]] = {}
        self.votes: dict[tuple[int, str], dict[str, Any]] = {}
        self.bills: dict[int, dict[str, Any]] = {}
        self.ratings: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.requests: dict[int, dict[str, Any]] = {}
        self.moves: list[dict[str, Any]] = []
        self.activities: dict[int, str] = {}
        self.works: dict[int, dict[str, Any]] = {}
        self.likes: list[dict[str, Any]] = []
        self.notices: dict[int, dict[str, Any]] = {}
        self.reads: dict[tuple[int, str], int] = {}
        for p in pages:
            ts = p["header"]["timestamp_ms"]
            for t, r in zip(p["txs"], p["receipts"], strict=True):
                # The sender's committee when the tx runs, before its own events.
                self.txs.append({"sender": t["sender_address"], "kind": f"{t['contract']}.{t['method']}",
                                 "status": r["status"], "ts": ts, "tx": t,
                                 "committee": self.committee(t["sender_address"])})
                for e in r["events"]:
                    self._event(e["contract"], e["name"], e["fields"], ts, t, p["height"])

    def committee(self, address: str) -> str | None:
        if address in self.residents:
            return str(self.residents[address]["committee"])
        if address in self.households:
            return str(self.households[address]["committee"])
        return None

    def _event(self, contract: str, name: str, f: dict[str, Any], ts: int, t: dict[str, Any],
               height: int) -> None:
        sender = t["sender_address"]
        key = (contract, name)
        if key == ("roles", "RoleGranted") and f["role"] == "resident":
            self.residents[f["address"]] = {"committee": f["by"], "granted": ts, "revoked": None}
        elif key == ("roles", "RoleRevoked") and f["role"] == "resident":
            self.residents[f["address"]]["revoked"] = ts
        elif key == ("households", "HouseholdRegistered"):
            self.households[f["address"]] = {"estate": f["unit"].split("-")[0], "area": f["area_dm2"],
                                             "committee": sender, "registered": ts, "removed": None}
        elif key == ("households", "HouseholdUpdated"):
            self.households[f["address"]]["area"] = f["area_dm2"]
        elif key == ("households", "HouseholdRemoved"):
            self.households[f["address"]]["removed"] = ts
        elif key == ("governance", "ProposalCreated") and f["kind"] == "owners":
            live = [h for h in self.households.values() if h["removed"] is None]
            category = t["args"][0] if (t["contract"], t["method"]) == ("governance", "propose_owners") else None
            self.proposals[f["id"]] = {"title": f["title"], "category": category, "created": ts,
                                       "closes": f["closes"], "owners": len(live),
                                       "area": sum(h["area"] for h in live), "quorum_height": None,
                                       "quorum_ms": None}
        elif key == ("governance", "Voted") and f["id"] in self.proposals:
            self.votes[(f["id"], f["voter"])] = {"area": f["area_dm2"]}
            p = self.proposals[f["id"]]
            mine = [v for (pid, _), v in self.votes.items() if pid == f["id"]]
            if p["quorum_ms"] is None and len(mine) * 3 >= p["owners"] * 2 \
                    and sum(v["area"] for v in mine) * 3 >= p["area"] * 2:
                p["quorum_ms"] = ts
                p["quorum_height"] = height
        elif key == ("property", "BillIssued"):
            h = self.households.get(f["household"], {"estate": "", "committee": ""})
            pm = re.match(r"^(\d{4})-(\d{2})", f["period"])
            self.bills[f["id"]] = {"household": f["household"], "estate": h["estate"],
                                   "committee": h["committee"], "company": sender,
                                   "month": pm.group(0) if pm and 1 <= int(pm.group(2)) <= 12 else month(ts),
                                   "total": f["total"], "issued": ts, "paid": None}
        elif key == ("property", "BillPaid"):
            self.bills[f["id"]]["paid"] = ts
        elif key == ("property", "Rated"):
            mine = [b for _, b in sorted(self.bills.items()) if b["household"] == f["household"]]
            self.ratings[("property", f["period"], f["household"])] = {
                "subject": mine[-1]["company"] if mine else "", "committee": self.committee(f["household"]) or "",
                "score": f["score"], "month": month(ts)}
        elif key == ("services", "Requested"):
            self.requests[f["id"]] = {"requester": f["requester"], "category": f["category"],
                                      "committee": self.committee(f["requester"]) or "", "at": ts,
                                      "offer": None, "done": None, "disputed": None}
        elif key == ("services", "Offered"):
            r = self.requests[f["id"]]
            r["offer"] = r["offer"] if r["offer"] is not None else ts
        elif key == ("services", "Completed"):
            self.requests[f["id"]]["done"] = ts
        elif key == ("services", "Disputed"):
            r = self.requests[f["id"]]
            r["disputed"] = r["disputed"] if r["disputed"] is not None else ts
        elif key == ("services", "ProviderRated"):
            r = self.requests[f["id"]]
            self.ratings[("service", str(f["id"]), r["requester"])] = {
                "subject": r["category"], "committee": r["committee"], "score": f["score"], "month": month(ts)}
        elif key == ("token", "Mint"):
            self.moves.append({"kind": "mint", "src": None, "dst": f["to"], "amount": f["amount"],
                               "source": f["minter"], "merchant": False, "committee": self.committee(f["to"]),
                               "month": month(ts), "tx": t["hash"]})
        elif key in (("token", "Transfer"), ("token", "Burn"), ("token", "Fee")):
            src = f["payer"] if name == "Fee" else f["sender"] if name == "Transfer" else f["account"]
            kind = {"Transfer": "transfer", "Burn": "burn", "Fee": "fee"}[name]
            self.moves.append({"kind": kind, "src": src, "dst": f.get("to"), "amount": f["amount"],
                               "source": None, "merchant": False, "committee": self.committee(src),
                               "month": month(ts), "tx": t["hash"]})
        elif key == ("merchants", "MerchantPaid"):
            for m in self.moves:
                if m["tx"] == t["hash"] and m["kind"] == "transfer" and m["src"] == f["payer"] \
                        and m["dst"] == "merchants" and m["amount"] == f["amount"]:
                    m["merchant"] = True
                    break
        elif key == ("activities", "ActivityProposed"):
            self.activities[f["id"]] = f["kind"]
        elif key == ("activities", "AttendanceConfirmed") and f["reward"] > 0:
            for m in reversed(self.moves):
                if m["tx"] == t["hash"] and m["kind"] == "mint" and m["dst"] == f["resident"] \
                        and m["source"] == "activities":
                    m["source"] = f"activities:{self.activities.get(f['id'], 'other')}"
                    break
        elif key == ("culture", "WorkRegistered"):
            self.works[f["id"]] = {"creator": f["creator"], "committee": self.committee(f["creator"]) or "",
                                   "month": month(ts)}
        elif key == ("culture", "Liked"):
            self.likes.append({"work": f["id"], "by": f["by"], "month": month(ts)})
            if f["reward"] > 0:
                for m in reversed(self.moves):
                    if m["tx"] == t["hash"] and m["kind"] == "mint" and m["source"] == "culture":
                        m["source"] = "culture:like"
                        break
        elif key == ("notices", "NoticePosted"):
            # The audience: residents at this point of the chain, by committee.
            audience: dict[str, int] = defaultdict(int)
            for r in self.residents.values():
                if r["revoked"] is None:
                    audience[r["committee"]] += 1
            audience[D] = sum(audience.values())
            self.notices[f["id"]] = {"posted": ts, "month": month(ts), "audience": dict(audience),
                                     "readers": defaultdict(int)}
        elif key == ("notices", "NoticeAcknowledged"):
            n = self.notices[f["id"]]
            rr = self.residents.get(f["resident"])
            if rr is not None and rr["granted"] <= n["posted"] and (rr["revoked"] is None or rr["revoked"] > n["posted"]):
                n["readers"][rr["committee"]] += 1
                n["readers"][D] += 1

    # --- the figures -----------------------------------------------------------------------

    def committees(self) -> set[str]:
        return {str(r["committee"]) for r in self.residents.values()} | {
            str(h["committee"]) for h in self.households.values()}

    def figure(self, name: str, committee: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = getattr(self, "_" + name)(committee)
        return rows

    def _in(self, committee: str, c: str | None) -> bool:
        return committee == D or c == committee

    def _active_residents(self, committee: str) -> list[dict[str, Any]]:
        by: dict[str, set[str]] = defaultdict(set)
        for t in self.txs:
            if t["status"] != 2 and t["committee"] is not None and self._in(committee, t["committee"]):
                by[week(t["ts"])].add(t["sender"])
        return [row(len(s), {"committee": committee, "week": w}, active_residents=len(s)) for w, s in by.items()]

    def _txs_by_kind(self, committee: str) -> list[dict[str, Any]]:
        by: dict[tuple[str, str], list[str]] = defaultdict(list)
        for t in self.txs:
            if committee == D or t["committee"] == committee:
                by[(day(t["ts"]), t["kind"])].append(t["sender"])
        return [row(len(set(s)), {"committee": committee, "day": d, "kind": k}, txs=len(s))
                for (d, k), s in by.items()]

    def _turnout(self, committee: str) -> list[dict[str, Any]]:
        out = []
        for pid, p in self.proposals.items():
            keys = {"committee": committee, "proposal_id": pid, "title": p["title"], "category": p["category"],
                    "created_ms": p["created"], "closes_height": p["closes"]}
            if committee == D:
                owners, area = p["owners"], p["area"]
                voted = [v for (q, _), v in self.votes.items() if q == pid]
                qms, qh = p["quorum_ms"], p["quorum_height"]
            else:
                hh = {a: h for a, h in self.households.items() if h["committee"] == committee
                      and h["registered"] <= p["created"] and (h["removed"] is None or h["removed"] > p["created"])}
                if not hh:
                    continue
                owners, area = len(hh), sum(h["area"] for h in hh.values())
                voted = [v for (q, a), v in self.votes.items() if q == pid and a in hh]
                qms = qh = None
            heads, varea = len(voted), sum(v["area"] for v in voted)
            out.append(row(owners, keys, total_owners=owners, total_area_dm2=area, voted_heads=heads,
                           voted_area_dm2=varea, heads_permille=permille(heads, owners),
                           area_permille=permille(varea, area), quorum_reached=int(qms is not None),
                           quorum_height=qh,
                           time_to_quorum_ms=None if qms is None else qms - p["created"]))
        return out

    def _scopes(self, committee: str, items: Iterable[dict[str, Any]], key: str) -> dict[tuple[str, str], list[dict[str, Any]]]:
        by: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for b in items:
            if committee == D:
                by[(b["estate"], b[key])].append(b)
                by[(D, b[key])].append(b)
            elif b["committee"] == committee:
                by[(b["estate"], b[key])].append(b)
        return by

    def _fee_collection(self, committee: str) -> list[dict[str, Any]]:
        out = []
        for (estate, m), bs in self._scopes(committee, self.bills.values(), "month").items():
            billed = sum(b["total"] for b in bs)
            paid = sum(b["total"] for b in bs if b["paid"] is not None)
            out.append(row(len({b["household"] for b in bs}), {"committee": committee, "estate": estate, "month": m},
                           bills=len(bs), billed=billed, paid=paid, collection_permille=permille(paid, billed)))
        return out

    def _arrears(self, committee: str) -> list[dict[str, Any]]:
        unpaid = []
        for b in self.bills.values():
            if b["paid"] is None:
                age = (self.now - b["issued"]) // DAY_MS
                unpaid.append({**b, "bucket": "0-30" if age <= 30 else "31-90" if age <= 90 else ">90"})
        return [row(len({b["household"] for b in bs}), {"committee": committee, "estate": e, "bucket": k},
                    bills=len(bs), amount=sum(b["total"] for b in bs))
                for (e, k), bs in self._scopes(committee, unpaid, "bucket").items()]

    def _satisfaction(self, committee: str) -> list[dict[str, Any]]:
        by: dict[tuple[str, str, str], list[tuple[str, int]]] = defaultdict(list)
        for (kind, _, rater), r in self.ratings.items():
            if self._in(committee, r["committee"]):
                by[(kind, r["subject"], r["month"])].append((rater, r["score"]))
        return [row(len({a for a, _ in rs}), {"committee": committee, "kind": k, "subject": s, "month": m},
                    ratings=len(rs), score_sum=sum(x for _, x in rs),
                    avg_score_milli=permille(sum(x for _, x in rs), len(rs)))
                for (k, s, m), rs in by.items()]

    def _service_requests(self, committee: str) -> list[dict[str, Any]]:
        by: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in self.requests.values():
            if committee == D:
                by[r["category"]].append(r)
                by[D].append(r)
            elif r["committee"] == committee:
                by[r["category"]].append(r)
        out = []
        for cat, rs in by.items():
            offered = [r["offer"] - r["at"] for r in rs if r["offer"] is not None]
            done = [r["done"] - r["at"] for r in rs if r["done"] is not None]
            disputed = sum(1 for r in rs if r["disputed"] is not None)
            out.append(row(len({r["requester"] for r in rs}), {"committee": committee, "category": cat},
                           requests=len(rs), offered=len(offered),
                           avg_to_first_offer_ms=sum(offered) // len(offered) if offered else None,
                           completed=len(done), avg_to_completion_ms=sum(done) // len(done) if done else None,
                           disputed=disputed, dispute_permille=permille(disputed, len(rs))))
        return out

    def _points(self, committee: str) -> list[dict[str, Any]]:
        by: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for m in self.moves:
            if committee == D or (m["committee"] is not None and m["committee"] == committee):
                by[m["month"]].append(m)
        out = []
        circulating = 0
        for mo in sorted(by):
            ms = by[mo]

            def total(pred: Any, ms: list[dict[str, Any]] = ms) -> int:
                return sum(m["amount"] for m in ms if pred(m))
            minted = total(lambda m: m["kind"] == "mint")
            burned = total(lambda m: m["kind"] == "burn")
            spent = total(lambda m: m["kind"] == "transfer" and m["committee"] is not None)
            merchants = total(lambda m: m["kind"] == "transfer" and m["merchant"])
            volume = total(lambda m: m["kind"] == "transfer")
            circulating += minted - burned
            circ = circulating if committee == D else None
            people = {m["dst"] if m["kind"] == "mint" else m["src"] for m in ms if m["committee"] is not None}
            out.append(row(len(people), {"committee": committee, "month": mo}, minted=minted, spent=spent,
                           at_merchants=merchants, merchant_share_permille=permille(merchants, spent),
                           burned=burned, fees=total(lambda m: m["kind"] == "fee"), volume=volume,
                           circulating=circ, velocity_permille=permille(volume, circ) if circ is not None else None))
        return out

    def _points_by_source(self, committee: str) -> list[dict[str, Any]]:
        by: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for m in self.moves:
            if m["kind"] == "mint" and (committee == D or m["committee"] == committee):
                by[(m["month"], m["source"])].append(m)
        return [row(len({m["dst"] for m in ms}), {"committee": committee, "month": mo, "source": s},
                    minted=sum(m["amount"] for m in ms), mints=len(ms)) for (mo, s), ms in by.items()]

    def _culture(self, committee: str) -> list[dict[str, Any]]:
        by: dict[str, dict[str, Any]] = defaultdict(lambda: {"works": 0, "likes": 0, "who": set()})
        for w in self.works.values():
            if self._in(committee, w["committee"]):
                by[w["month"]]["works"] += 1
                by[w["month"]]["who"].add(w["creator"])
        for like in self.likes:
            if self._in(committee, self.works[like["work"]]["committee"]):
                by[like["month"]]["likes"] += 1
                by[like["month"]]["who"].add(like["by"])
        return [row(len(v["who"]), {"committee": committee, "month": m}, works=v["works"], likes=v["likes"])
                for m, v in by.items()]

    def _notices(self, committee: str) -> list[dict[str, Any]]:
        out = []
        for nid, n in self.notices.items():
            if committee not in n["audience"]:
                continue
            people, readers = n["audience"][committee], n["readers"][committee]
            out.append(row(people, {"committee": committee, "notice_id": nid, "month": n["month"]},
                           residents=people, readers=readers, read_permille=permille(readers, people)))
        return out
