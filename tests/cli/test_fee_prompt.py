"""The fee shown before a tx is sent, who pays it, and the question asked at a terminal
unless --yes: declining sends nothing."""

from __future__ import annotations

import io
from typing import Any

import click
import pytest

from cli.client import fee_text, show_dry_run

PAID = {"fee": 12, "gas_used": 11_813, "events": [
    {"contract": "merchants", "name": "MerchantPaid", "fields": {"fee": 2}},
    {"contract": "token", "name": "Fee", "fields": {"payer": "hk1me", "sender": "hk1me", "amount": 12}}]}
SPONSORED = {"fee": 5, "gas_used": 4_227, "events": [
    {"contract": "token", "name": "Fee", "fields": {"payer": "governance", "sender": "hk1me", "amount": 5}}]}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_fee_says_who_pays() -> None:
    assert fee_text(PAID) == "fee 12 points for 11,813 gas of work, paid by you"
    assert fee_text(SPONSORED) == ("fee 5 points for 4,227 gas of work, paid by governance "
                                   "(sponsored: it costs you nothing)")


def test_at_a_terminal_the_sender_is_asked(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    with pytest.raises(click.ClickException) as declined:
        show_dry_run(as_json=False, assume_yes=False)(PAID)
    assert "not sent; no fee paid" in declined.value.message
    assert "fee 12 points" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    show_dry_run(as_json=False, assume_yes=False)(PAID)  # accepted: returns, the tx is sent


def test_yes_or_a_script_is_not_asked(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setattr("sys.stdin", Terminal(""))  # would abort if it asked
    show_dry_run(as_json=False, assume_yes=True)(PAID)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal
    show_dry_run(as_json=False, assume_yes=False)(PAID)
    assert capsys.readouterr().err.count("dry run ok: fee 12 points") == 2
