"""`hkchain prove`: a resident checks a fact of the chain without trusting the node.

Each subcommand names a state key (docs/PROTOCOL.md section 7), fetches its state proof
and the block of the proof's height with its commit certificate, checks the certificate
against the validator set (the node's, or the one of a genesis file given with
--validators), checks that the header's bytes hash to the certified block hash, and checks
the proof against that header's state root (section 8). Only then does it print the value,
the height and "verified"; any failed check is an error and prints no value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from cli.common import (
    format_value,
    friendly_errors,
    json_option,
    key_option,
    print_json,
    rpc_option,
)
from cli.wallet import RpcClient, run
from core import codec
from core.crypto import key_file_address, parse_address
from core.errors import AddressError, ChainError, DecodeError, ValidationError
from core.render import value_to_json
from core.verify import validator_set_from_json, verify_block
from storage.state import StateProof, verify_state_proof
from vm import layout


@dataclass(frozen=True)
class ProvenValue:
    """A state value (None: absent) proven under a header whose certificate was checked."""

    key: bytes
    value: Any
    height: int
    block_hash: str
    state_root: str
    signers: int
    quorum: int


def check_proof(proof_doc: dict[str, Any], block_doc: dict[str, Any], key: bytes,
                validators: Any) -> ProvenValue:
    """The value at ``key`` if ``proof_doc`` (GET /v1/proofs) proves it under the header of
    ``block_doc`` (GET /v1/blocks) and that block's certificate is a quorum of
    ``validators`` (as /v1/status lists them); ValidationError otherwise."""
    checked = verify_block(block_doc, validator_set_from_json(validators))
    try:
        if proof_doc["height"] != checked.height or bytes.fromhex(proof_doc["key"]) != key:
            raise ValidationError("the node sent a proof of another key or height")
        raw = None if proof_doc["value"] is None else bytes.fromhex(proof_doc["value"])
        proof = StateProof.from_value(codec.decode(bytes.fromhex(proof_doc["proof_encoded"])))
    except (KeyError, TypeError, ValueError, DecodeError) as exc:
        raise ValidationError(f"malformed proof: {exc}") from exc
    if not verify_state_proof(bytes.fromhex(checked.state_root), key, raw, proof):
        raise ValidationError("the state proof does not verify against the certified state root")
    try:
        value = None if raw is None else codec.decode(raw)
    except DecodeError as exc:
        raise ValidationError("the proven value is not a canonical value") from exc
    return ProvenValue(key, value, checked.height, checked.block_hash, checked.state_root,
                       checked.signers, checked.quorum)


def prove_key(rpc_url: str, key: bytes, validators_file: Path | None) -> ProvenValue:
    async def go() -> ProvenValue:
        async with RpcClient(rpc_url) as rpc:
            proof = await rpc.proof(key.hex())
            block = await rpc.block(int(proof["height"]))
            trusted = (_genesis_validators(validators_file) if validators_file is not None
                       else (await rpc.status())["validators"])
            return check_proof(proof, block, key, trusted)

    return run(go())


def _genesis_validators(path: Path) -> Any:
    try:
        return json.loads(path.read_text())["validators"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(f"cannot read validators from {path}: {exc}") from exc


def _address(address: str | None, key_file: str | None) -> str:
    """The address given, else the key file's (read from its public part: no passphrase)."""
    if address is None:
        if not key_file:
            raise click.ClickException("give an ADDRESS, or --key FILE whose address to use")
        address = key_file_address(key_file)
    try:
        parse_address(address)
    except AddressError as exc:
        raise click.ClickException(exc.message) from exc
    return address


def _report(what: str, proven: ProvenValue, shown: Any, as_json: bool) -> None:
    if as_json:
        print_json({"what": what, "key": proven.key.decode(errors="replace"),
                    "value": value_to_json(proven.value), "height": proven.height,
                    "block_hash": proven.block_hash, "state_root": proven.state_root,
                    "signatures": proven.signers, "quorum": proven.quorum, "verified": True})
        return
    click.echo(f"{what}: {format_value(shown)}")
    click.echo(f"height {proven.height}, block {proven.block_hash}")
    click.echo(f"verified: state proof against the state root {proven.state_root[:16]}… of a "
               f"block with {proven.signers} commit signatures (quorum {proven.quorum})")


def _common(f: Any) -> Any:
    f = click.option("--validators", "validators_file",
                     type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="A genesis.json whose validators to trust (default: the node's).")(f)
    return rpc_option(json_option(f))


@click.group("prove")
def prove() -> None:
    """Check a fact of the chain here, trusting only the validator set: a balance, a vote,
    a bill. Prints the value, its height and "verified" only when every check passed."""


@prove.command("balance")
@click.argument("address", required=False)
@key_option
@_common
@friendly_errors
def balance(address: str | None, key_file: str | None, rpc_url: str, as_json: bool,
            validators_file: Path | None) -> None:
    """The points of ADDRESS (default: the address of --key)."""
    address = _address(address, key_file)
    proven = prove_key(rpc_url, layout.balance_key(address), validators_file)
    points = 0 if proven.value is None else proven.value
    if type(points) is not int:
        raise ChainError("the proven balance is not an integer", code="malformed")
    _report(f"balance of {address}", proven, f"{points} points", as_json)


@prove.command("vote")
@click.argument("proposal", type=click.IntRange(1))
@click.argument("address", required=False)
@key_option
@_common
@friendly_errors
def vote(proposal: int, address: str | None, key_file: str | None, rpc_url: str,
         as_json: bool, validators_file: Path | None) -> None:
    """The vote of ADDRESS (default: the address of --key) on proposal PROPOSAL."""
    address = _address(address, key_file)
    key = layout.storage_key(layout.GOVERNANCE, f"v:{proposal}:{address}")
    proven = prove_key(rpc_url, key, validators_file)
    v = proven.value
    shown = ("no vote recorded" if v is None
             else v.get("choice", v) if isinstance(v, dict) else v)
    _report(f"vote of {address} on proposal {proposal}", proven, shown, as_json)


@prove.command("bill")
@click.argument("bill_id", type=click.IntRange(1))
@_common
@friendly_errors
def bill(bill_id: int, rpc_url: str, as_json: bool, validators_file: Path | None) -> None:
    """Whether bill BILL_ID is paid (and by whom, how and when)."""
    proven = prove_key(rpc_url, layout.storage_key("property", f"bill:{bill_id}"), validators_file)
    b = proven.value
    if b is None:
        shown: Any = "no such bill"
    elif isinstance(b, dict):
        shown = (f"{b.get('status')}, {b.get('total')} points, household {b.get('household')}"
                 + (f", paid by {b.get('paid_by')} ({b.get('method')})" if b.get("status") == "paid" else ""))
    else:
        shown = b
    _report(f"bill {bill_id}", proven, shown, as_json)


@prove.command("key")
@click.argument("state_key")
@_common
@friendly_errors
def key(state_key: str, rpc_url: str, as_json: bool, validators_file: Path | None) -> None:
    """The value of any STATE_KEY (its text, e.g. c/token/s/supply, or 0x-hex)."""
    raw = bytes.fromhex(state_key[2:]) if state_key.startswith("0x") else state_key.encode()
    proven = prove_key(rpc_url, raw, validators_file)
    _report(f"state key {state_key}", proven,
            "absent" if proven.value is None else value_to_json(proven.value), as_json)
