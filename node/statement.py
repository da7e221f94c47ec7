"""A resident's statement: the committed txs that touched an address, as points in and
out, fees and bills paid (docs/APPLICATIONS.md "A resident's statement").

At each commit ``touched_accounts`` names the addresses a block's txs touched: the signer,
and the addresses in the ``token`` events (``Transfer{sender, to}``, ``Mint{to}``,
``Burn{account}``, ``Fee{payer, sender}``) and in ``property.BillPaid{household, payer}``.
The store keeps them as an index (storage/schema.py ``ACCOUNT_TX``); ``statement`` reads a
page of it back and turns each tx into one entry. Contract accounts (``governance``,
``services``…) are not indexed: their histories would be every tx of the chain.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from core.codec import Value
from core.crypto import address_of
from core.errors import ChainError
from core.fields import is_decimal
from core.types import Block, Receipt
from storage.api import ChainStore

MAX_STATEMENT_LIMIT = 100
DEFAULT_STATEMENT_LIMIT = 20
ADDRESS_PREFIX = "hk1"
TOKEN = "token"
_CURSOR = re.compile(r"([0-9]{1,19})\.([0-9]{1,10})")  # ASCII digits: \d is Unicode


class StatementError(ChainError):
    """A statement request that cannot be answered: a malformed cursor or limit."""

    code = "malformed"


def _addresses_of(fields: dict[str, Value], names: Sequence[str]) -> list[str]:
    out = []
    for n in names:
        v = fields.get(n)
        if isinstance(v, str) and v.startswith(ADDRESS_PREFIX):
            out.append(v)
    return out


_EVENT_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    (TOKEN, "Transfer"): ("sender", "to"),
    (TOKEN, "Mint"): ("to",),
    (TOKEN, "Burn"): ("account",),
    (TOKEN, "Fee"): ("payer", "sender"),
    ("property", "BillPaid"): ("household", "payer"),
}


def touched_accounts(block: Block, receipts: Sequence[Receipt]) -> list[tuple[str, int]]:
    """(address, tx index) of every address each tx of ``block`` touched, each once."""
    out: list[tuple[str, int]] = []
    for index, (stx, receipt) in enumerate(zip(block.txs, receipts, strict=True)):
        seen = {address_of(stx.tx.sender)}
        for ev in receipt.events:
            names = _EVENT_FIELDS.get((ev.contract, ev.name))
            if names is not None:
                seen.update(_addresses_of(ev.fields, names))
        out.extend((a, index) for a in sorted(seen))
    return out


def parse_cursor(text: str | None) -> tuple[int, int] | None:
    if text is None or text == "":
        return None
    m = _CURSOR.fullmatch(text)
    if m is None:
        raise StatementError('cursor: "" or the "next" of the previous page ("<height>.<index>")')
    return int(m.group(1)), int(m.group(2))


def parse_limit(text: str | None) -> int:
    if text is None or text == "":
        return DEFAULT_STATEMENT_LIMIT
    if not is_decimal(text) or not 1 <= int(text) <= MAX_STATEMENT_LIMIT:
        raise StatementError(f"limit: an integer 1..{MAX_STATEMENT_LIMIT}")
    return int(text)


def entry_of(address: str, height: int, index: int, block: Block, receipt: Receipt) -> dict[str, Any]:
    """One statement entry: what tx (height, index) meant for ``address``."""
    tx = block.txs[index].tx
    lines: list[dict[str, Any]] = []
    points_in = points_out = fee = 0
    bill: dict[str, Any] | None = None
    fee_event = False
    for ev in receipt.events:
        f = ev.fields
        amount = f.get("amount")
        if ev.contract == TOKEN and type(amount) is int:
            if ev.name == "Transfer":
                if f.get("to") == address and f.get("sender") != address:
                    points_in += amount
                    lines.append({"kind": "in", "amount": amount, "counterparty": f.get("sender")})
                elif f.get("sender") == address and f.get("to") != address:
                    points_out += amount
                    lines.append({"kind": "out", "amount": amount, "counterparty": f.get("to")})
            elif ev.name == "Mint" and f.get("to") == address:
                points_in += amount
                lines.append({"kind": "mint", "amount": amount, "counterparty": f.get("minter")})
            elif ev.name == "Burn" and f.get("account") == address:
                points_out += amount
                lines.append({"kind": "burn", "amount": amount, "counterparty": None})
            elif ev.name == "Fee":
                fee_event = True
                if f.get("payer") == address:
                    fee += amount
                    lines.append({"kind": "fee", "amount": amount, "counterparty": None})
        elif ev.contract == "property" and ev.name == "BillPaid" \
                and address in (f.get("household"), f.get("payer")):
            bill = {"id": f.get("id"), "household": f.get("household"), "amount": amount,
                    "method": f.get("method")}
    signer = address_of(tx.sender)
    if not fee_event and receipt.fee and signer == address:
        # An executor that reports the fee on the receipt only: the signer paid it.
        fee = receipt.fee
        lines.append({"kind": "fee", "amount": fee, "counterparty": None})
    return {
        "height": height, "index": index, "tx_hash": receipt.tx_hash.hex(),
        "time_ms": block.header.timestamp_ms, "contract": tx.contract, "method": tx.method,
        "signer": signer, "status": receipt.status,
        "points_in": points_in, "points_out": points_out, "fee": fee, "lines": lines, "bill": bill,
    }


def statement(store: ChainStore, address: str, cursor: tuple[int, int] | None, limit: int) -> dict[str, Any]:
    """A page of ``address``'s statement, newest first, and the cursor of the next page."""
    found = store.account_txs(address, cursor, limit + 1)
    page, more = found[:limit], len(found) > limit
    items = []
    blocks: dict[int, tuple[Block, list[Receipt]]] = {}
    for height, index in page:
        if height not in blocks:
            block = store.block(height)
            if block is None:
                continue
            blocks[height] = (block, store.receipts(height))
        block, receipts = blocks[height]
        if index < len(receipts):
            items.append(entry_of(address, height, index, block, receipts[index]))
    last = page[-1] if page else None
    return {
        "address": address,
        "items": items,
        "next": f"{last[0]}.{last[1]}" if more and last is not None else "",
        "history_from": store.account_history_from(),
    }
