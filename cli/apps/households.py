"""`hkchain households …`: the owner-household register, with personal data kept off chain.

``register`` computes the identity commitment locally, seals the resident's data to the
committee member's key in the committee's local register (privacy/register.py), writes the
resident's card, and puts only the commitment, unit and area on chain. ``prove`` and
``verify`` let a resident show a verifier of their choice that their data matches the
on-chain commitment, signed with the household's key over the verifier's challenge.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from cli.apps.base import (
    TxOptions,
    address_arg,
    area_dm2_arg,
    area_text,
    query,
    report,
    send,
    show,
    table,
    time_text,
    title_arg,
    tx_command,
    view_command,
)
from cli.apps.bulk import Call, read_table, send_many, write_table
from cli.common import load_key, network_home, print_json, print_pairs
from core.crypto import PUBLIC_KEY_SIZE, PrivateKey, address_of
from privacy.checks import ID_TYPES, check_id, check_phone
from privacy.field_proof import FIELDS, FieldProof
from privacy.register import (
    CommitmentProof,
    HouseholdCard,
    HouseholdIdentity,
    PrivacyError,
    PrivacyStore,
)

MAX_PROOF_FILE_BYTES = 256 * 1024
STORE_ENV = "HKCHAIN_PRIVACY_STORE"


def default_store() -> Path:
    """$HKCHAIN_PRIVACY_STORE, else the local network's first node (the committee's), in
    the network home (--home, $HKCHAIN_HOME, ./localnet)."""
    env = os.environ.get(STORE_ENV)
    if env:
        return Path(env)
    return PrivacyStore.of_node_home(network_home() / "node0").root


def store_option(f: Any) -> Any:
    return click.option(
        "--store", "store_dir", type=click.Path(file_okay=False, path_type=Path),
        default=default_store, show_default="$HKCHAIN_PRIVACY_STORE, else HOME/node0/data/privacy",
        help="The committee's encrypted register (a directory on the committee's node).",
    )(f)


MAX_UNIT_CHARS = 32


def identity_options(f: Any) -> Any:
    f = click.option("--id-type", type=click.Choice(ID_TYPES), default="resident", show_default=True,
                     help="resident: a mainland resident ID card (checked by GB 11643); "
                          "other: a passport or Hong Kong/Macao/Taiwan permit number.")(f)
    f = click.option("--phone", required=True,
                     help="Owner's phone (kept off chain, encrypted): a mainland mobile number, "
                          "or +country code and number.")(f)
    f = click.option("--id-number", required=True,
                     help="Owner's ID number (kept off chain, encrypted); see --id-type.")(f)
    f = click.option("--name", required=True, help="Owner's name (kept off chain, encrypted).")(f)
    return f


def checked_identity(name: str, id_number: str, phone: str, id_type: str) -> HouseholdIdentity:
    """The identity as typed, checked (ID checksum, phone format) before anything is sealed
    or signed; a usage error names the option at fault."""
    try:
        id_n = check_id(id_number, id_type)
    except PrivacyError as exc:
        raise click.BadParameter(exc.message, param_hint="--id-number") from exc
    try:
        phone_n = check_phone(phone)
    except PrivacyError as exc:
        raise click.BadParameter(exc.message, param_hint="--phone") from exc
    try:
        return HouseholdIdentity.create(name, id_n, phone_n)
    except PrivacyError as exc:
        raise click.BadParameter(exc.message, param_hint="--name") from exc


@click.group("households")
def households() -> None:
    """Owner households: register (data off chain, commitment on chain), prove, verify."""


@households.command("register")
@click.option("--household", "household", required=True, metavar="ADDRESS",
              help="The household's address (the resident's key).")
@click.option("--unit", required=True, help='Flat label, e.g. "T3-12B" (no personal data).')
@click.option("--area", required=True, metavar="M2", help="Exclusive floor area in m², e.g. 89.57.")
@identity_options
@click.option("--card-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the resident's card (default: household-UNIT.card.json).")
@store_option
@tx_command
def register(household: str, unit: str, area: str, name: str, id_number: str, phone: str, id_type: str,
             card_out: Path | None, store_dir: Path, *, opts: TxOptions) -> None:
    """Register an owner household (committee members only).

    The name, ID number and phone never leave this machine in plaintext: they are sealed
    to your key in the committee's register (--store) and written to the resident's card;
    the chain gets the unit, the area and sha256(salt || identity) only.
    """
    address_arg(household, "--household")
    unit = title_arg(unit, MAX_UNIT_CHARS, "--unit")
    identity = checked_identity(name, id_number, phone, id_type)
    card = HouseholdCard.issue(household, area_dm2_arg(area), identity)
    committee = load_key(opts.key_file)
    card_path = card_out or Path(f"household-{_file_safe(unit)}.card.json")
    store = PrivacyStore(store_dir)
    # Off chain first: if the chain refuses, nothing is left behind; if this machine
    # fails after the commit, the resident's salt is already safe in both places.
    card.save(card_path)
    record = store.add(card, committee.public_key)
    try:
        if not query(opts.rpc_url, "roles", "holds", [household, "resident"]):
            send(opts, "roles", "grant", [household, "resident"])
        outcome = send(opts, "households", "register",
                       [household, unit, card.area_dm2, card.commitment])
    except BaseException:
        card_path.unlink(missing_ok=True)
        store.path_of(record.commitment).unlink(missing_ok=True)
        raise
    report(opts, outcome, f"Household {unit} registered", [
        ("household", household), ("unit", unit), ("area", f"{area_text(card.area_dm2)} m²"),
        ("commitment (on chain)", "0x" + card.commitment.hex()),
        ("resident's card", str(card_path)), ("committee register", str(store.root)),
    ])


def _file_safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:40] or "household"


@households.command("show")
@click.argument("address")
@view_command
def show_household(address: str, rpc_url: str, as_json: bool) -> None:
    """The on-chain record of a household: unit, area, commitment, roles."""
    address_arg(address, "ADDRESS")
    rec = query(rpc_url, "households", "record", [address])
    if rec is None:
        raise click.ClickException(f"{address} is not a registered household")
    rec = {**rec, "address": address, "roles": query(rpc_url, "roles", "roles_of", [address])}
    show(as_json, f"Household {rec.get('unit', '')}", rec,
         ["address", "unit", "area_dm2", "commitment", "registered_at", "roles"])


@households.command("totals")
@view_command
def totals(rpc_url: str, as_json: bool) -> None:
    """Total exclusive area and number of owner households (the Article 278 base)."""
    area, count = query(rpc_url, "households", "totals", [])
    if as_json:
        print_json({"result": {"total_area_dm2": area, "households": count}})
        return
    print_pairs("Owner households", [("households", count), ("total area", f"{area_text(area)} m²")])


@households.command("local")
@store_option
@click.option("--reveal", is_flag=True, help="Decrypt and show the personal data (needs --key).")
@click.option("--key", "key_file", default=None, metavar="FILE",
              help="The committee member's key the records are sealed to.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def local(store_dir: Path, reveal: bool, key_file: str | None, as_json: bool) -> None:
    """The committee's local register: sealed records (decrypted only with --reveal)."""
    try:
        store = PrivacyStore(store_dir)
        records = store.records()
        key = load_key(key_file) if reveal else None
        rows = []
        for r in records:
            row: list[Any] = ["0x" + r.commitment.hex(), r.household, r.committee]
            if key is not None:
                if r.erased_at:
                    row += ["(erased on request)", "", ""]
                elif key.address in r.keys:
                    card = store.open(r, key, purpose="households local --reveal")
                    row += [card.identity.name, card.identity.id_number, card.identity.phone]
                else:
                    row += ["(sealed to other members)", "", ""]
            rows.append(row)
    except PrivacyError as exc:
        raise click.ClickException(f"{exc.message} [{exc.code}]") from exc
    cols = ["commitment", "household", "sealed to"] + (["name", "id number", "phone"] if reveal else [])
    table(as_json, f"{len(rows)} households in {store.root}", cols, rows)


@households.command("prove")
@click.option("--card", "card_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The resident's household card.")
@click.option("--key", "key_file", required=True, metavar="FILE", help="The household's key.")
@click.option("--challenge", required=True, help="The verifier's challenge (a fresh word or number).")
@click.option("--seal-to", default=None, metavar="PUBLIC_KEY_HEX",
              help="Encrypt the proof to the verifier's public key (only they can read it).")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the proof for the verifier.")
@click.option("--field", type=click.Choice(["all", *FIELDS]), default="all", show_default=True,
              help="Disclose only this field (unit or area: no personal data at all), or the "
                   "whole card (all: name, ID number, phone).")
def prove(card_file: Path, key_file: str, challenge: str, seal_to: str | None, out_file: Path, field: str) -> None:
    """Make a proof of your household for one verifier: of one field, or of the whole card."""
    try:
        card = HouseholdCard.load(card_file)
        proof: CommitmentProof | FieldProof
        if seal_to and field != "all":
            raise click.UsageError("a field proof holds no personal data: --seal-to is for the whole card")
        if field == "all":
            proof = CommitmentProof.create(card, load_key(key_file), challenge)
        else:
            proof = FieldProof.create(card.household, field, load_key(key_file), challenge)
        if seal_to:
            try:
                pk = bytes.fromhex(seal_to.removeprefix("0x"))
            except ValueError:
                pk = b""
            if len(pk) != PUBLIC_KEY_SIZE:
                raise click.BadParameter("a 64-hex-character public key", param_hint="--seal-to")
            assert isinstance(proof, CommitmentProof)
            data, sealed = proof.seal_to(pk), True
        else:
            data, sealed = proof.encode(), False
    except PrivacyError as exc:
        raise click.ClickException(f"{exc.message} [{exc.code}]") from exc
    doc = {"type": "hkchain-household-proof" if field == "all" else "hkchain-household-field-proof",
           "sealed": sealed, "data": data.hex()}
    fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    click.echo(f"proof for household {card.household} written to {out_file}"
               + (" (sealed to the verifier)" if sealed else ""))


@households.command("verify")
@click.argument("proof_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--challenge", required=True, help="The challenge you gave the resident.")
@click.option("--key", "key_file", default=None, metavar="FILE",
              help="Your key, to open a proof sealed to you.")
@view_command
def verify(proof_file: Path, challenge: str, key_file: str | None, rpc_url: str, as_json: bool) -> None:
    """Check a resident's proof against the chain: a whole-card proof against the
    household's commitment, a field proof (unit or area) against its on-chain record."""
    try:
        if proof_file.stat().st_size > MAX_PROOF_FILE_BYTES:
            raise PrivacyError("proof file too large", code="bad_proof")
        doc = json.loads(proof_file.read_text())
        data = bytes.fromhex(doc["data"])
        if doc.get("type") == "hkchain-household-field-proof":
            _verify_field(FieldProof.decode(data), challenge, rpc_url, as_json)
            return
        if doc.get("sealed"):
            if not key_file:
                raise click.UsageError("this proof is sealed: pass --key with your key")
            proof = CommitmentProof.open_sealed(data, load_key(key_file))
        else:
            proof = CommitmentProof.decode(data)
        commitment = proof.check()
    except (ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(f"{proof_file} is not a household proof") from exc
    except PrivacyError as exc:
        raise click.ClickException(f"proof refused: {exc.message} [{exc.code}]") from exc
    household = proof.card.household
    on_chain = bool(query(rpc_url, "households", "verify", [household, commitment]))
    challenge_ok = proof.challenge == challenge
    rec = query(rpc_url, "households", "record", [household]) if on_chain else None
    valid = on_chain and challenge_ok
    result = {"valid": valid, "household": household, "commitment": "0x" + commitment.hex(),
              "matches_chain": on_chain, "challenge_matches": challenge_ok,
              "unit": rec.get("unit") if isinstance(rec, dict) else None,
              "name": proof.card.identity.name, "id_number": proof.card.identity.id_number,
              "phone": proof.card.identity.phone}
    if as_json:
        print_json(result)
    else:
        print_pairs("Household proof " + ("VALID" if valid else "NOT VALID"),
                    [(k, v) for k, v in result.items() if k != "valid"])
    if not valid:
        why = "the commitment is not the one on chain" if not on_chain else "the challenge differs"
        raise click.ClickException(f"proof not valid: {why}")


@households.command("update")
@click.option("--household", "household", required=True, metavar="ADDRESS",
              help="The registered household's address.")
@click.option("--area", required=True, metavar="M2", help="Exclusive floor area in m² (the same or corrected).")
@identity_options
@click.option("--card-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the resident's new card (default: household-UNIT.card.json).")
@store_option
@tx_command
def update(household: str, area: str, name: str, id_number: str, phone: str, id_type: str, card_out: Path | None,
           store_dir: Path, *, opts: TxOptions) -> None:
    """Renew a household's data (a new phone, a corrected area): a new salt and commitment
    on chain, a new sealed record and card; the old record is deleted once the chain has
    the new commitment (committee members only)."""
    address_arg(household, "--household")
    old = query(opts.rpc_url, "households", "record", [household])
    if not isinstance(old, dict):
        raise click.ClickException(f"{household} is not a registered household")
    card = HouseholdCard.issue(household, area_dm2_arg(area), checked_identity(name, id_number, phone, id_type))
    committee = load_key(opts.key_file)
    card_path = card_out or Path(f"household-{_file_safe(str(old.get('unit', 'household')))}.card.json")
    store = PrivacyStore(store_dir)
    previous_card = card_path.read_bytes() if card_path.exists() else None
    card.save(card_path)
    record = store.add(card, committee.public_key)
    try:
        outcome = send(opts, "households", "update", [household, card.area_dm2, card.commitment])
    except BaseException:
        store.path_of(record.commitment).unlink(missing_ok=True)
        if previous_card is None:
            card_path.unlink(missing_ok=True)
        else:
            card_path.write_bytes(previous_card)
        raise
    old_commitment = str(old.get("commitment", "")).removeprefix("0x")
    if old_commitment and old_commitment != card.commitment.hex():
        store.path_of(bytes.fromhex(old_commitment)).unlink(missing_ok=True)
    report(opts, outcome, f"Household {old.get('unit', '')} updated", [
        ("household", household), ("area", f"{area_text(card.area_dm2)} m²"),
        ("commitment (on chain)", "0x" + card.commitment.hex()), ("resident's new card", str(card_path)),
    ])


@households.command("remove")
@click.argument("address")
@tx_command
def remove(address: str, *, opts: TxOptions) -> None:
    """Take a household off the register (committee; e.g. the flat was sold). The sealed
    record stays in the committee's register until you delete it."""
    address_arg(address, "ADDRESS")
    out = send(opts, "households", "remove", [address])
    report(opts, out, "Household removed", [("household", address)])


# --- many households at once, from the clerk's CSV ------------------------------------------

HOUSEHOLD_COLUMNS = {
    "unit": ("房号", "户号", "单元"),
    "area": ("面积", "建筑面积", "面积m2"),
    "name": ("姓名", "业主姓名"),
    "id_number": ("证件号码", "身份证号", "身份证号码"),
    "phone": ("手机号", "手机", "电话"),
    "id_type": ("证件类型",),
    "address": ("地址", "账户地址"),
}
REQUIRED_HOUSEHOLD_COLUMNS = ("unit", "area", "name", "id_number", "phone")
RESIDENT_ID_WORDS = ("", "resident", "身份证", "居民身份证")
OTHER_ID_WORDS = ("other", "其他", "护照", "港澳通行证", "台湾居民来往大陆通行证", "回乡证")


@dataclass
class _Row:
    line: str
    unit: str
    area_dm2: int
    identity: HouseholdIdentity
    address: str = ""
    key_file: str = ""
    card_file: str = ""
    status: str = ""
    tx: str = ""


def _parse_rows(rows: list[dict[str, str]]) -> tuple[list[_Row], list[str]]:
    out: list[_Row] = []
    errors: list[str] = []
    units: set[str] = set()
    addresses: set[str] = set()
    for r in rows:
        line = r["_line"]
        try:
            unit = title_arg(r["unit"], MAX_UNIT_CHARS, "unit")
            if unit in units:
                raise click.BadParameter(f"unit {unit} appears twice", param_hint="unit")
            units.add(unit)
            area = area_dm2_arg(r["area"])
            kind = r.get("id_type", "").strip().lower()
            if kind not in RESIDENT_ID_WORDS and kind not in OTHER_ID_WORDS:
                raise click.BadParameter(f"证件类型 {r.get('id_type')!r}: 身份证 or 其他", param_hint="id_type")
            identity = checked_identity(r["name"], r["id_number"], r["phone"],
                                        "resident" if kind in RESIDENT_ID_WORDS else "other")
            address = r.get("address", "")
            if address:
                address_arg(address, "address")
                if address in addresses:
                    raise click.BadParameter(f"address {address} appears twice", param_hint="address")
                addresses.add(address)
            out.append(_Row(line, unit, area, identity, address))
        except click.BadParameter as exc:
            errors.append(f"line {line}: {exc.param_hint}: {exc.message}")
    return out, errors


@households.command("import")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--cards-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where to write each resident's household card (to hand over).")
@click.option("--keys-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="For rows without an address: create the household's key here (KEY per unit; "
                   "reused on a re-run).")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              default=None, help="Write what was done, row by row, as CSV (- for stdout).")
@store_option
@tx_command
def import_households(csv_file: Path, cards_dir: Path, keys_dir: Path | None, report_file: Path | None,
                      store_dir: Path, *, opts: TxOptions) -> None:
    """Register every household of CSV_FILE (committee members only).

    Columns (Chinese or English headers): 房号/unit, 面积/area (m²), 姓名/name,
    证件号码/id_number, 手机号/phone, and optionally 证件类型/id_type (身份证 or 其他) and
    地址/address (the household's hk1… address; without it a key is created in
    --keys-dir). Every row is checked before anything is signed; personal data goes only
    into the sealed register and the cards. Rows already registered are skipped, so the
    command can be run again after an interruption.
    """
    parsed, errors = _parse_rows(read_table(csv_file, HOUSEHOLD_COLUMNS, REQUIRED_HOUSEHOLD_COLUMNS))
    if errors:
        raise click.UsageError("nothing was sent; fix these rows first:\n  " + "\n  ".join(errors))
    if any(not r.address for r in parsed) and keys_dir is None:
        raise click.UsageError("some rows have no address: give --keys-dir to create their keys")
    for r in parsed:
        if not r.address:
            assert keys_dir is not None
            path = keys_dir / f"{_file_safe(r.unit)}.key"
            if path.exists():
                r.address = PrivateKey.load(path).address
            else:
                keys_dir.mkdir(parents=True, exist_ok=True)
                k = PrivateKey.generate()
                k.save(path)
                r.address = k.address
            r.key_file = str(path)
    # What the chain already has: skip it, or refuse a row that contradicts it.
    todo: list[_Row] = []
    for r in parsed:
        holder = query(opts.rpc_url, "households", "unit_holder", [r.unit])
        if holder == r.address:
            r.status = "already registered"
        elif holder:
            r.status = f"error: unit {r.unit} is registered to {holder}"
        elif query(opts.rpc_url, "households", "record", [r.address]) is not None:
            r.status = "error: this address is registered for another unit"
        else:
            todo.append(r)
    committee = load_key(opts.key_file)
    store = PrivacyStore(store_dir)
    cards_dir.mkdir(parents=True, exist_ok=True)
    sealed: dict[str, bytes] = {}
    calls: list[Call] = []
    for r in todo:
        card = HouseholdCard.issue(r.address, r.area_dm2, r.identity)
        path = cards_dir / f"household-{_file_safe(r.unit)}.card.json"
        card.save(path)
        store.add(card, committee.public_key)
        r.card_file = str(path)
        sealed[r.address] = card.commitment
        calls.append(Call("households", "register", [r.address, r.unit, r.area_dm2, card.commitment]))
    need_role = [r for r in todo if not query(opts.rpc_url, "roles", "holds", [r.address, "resident"])]
    granted = send_many(opts, [Call("roles", "grant", [r.address, "resident"]) for r in need_role],
                        "granting the resident role")
    refused = {r.address: g.error for r, g in zip(need_role, granted, strict=True) if not g.ok}
    ready = [(r, c) for r, c in zip(todo, calls, strict=True) if r.address not in refused]
    done = send_many(opts, [c for _, c in ready], "registering households")
    for r in todo:
        if r.address in refused:
            r.status = f"error: resident role not granted: {refused[r.address]}"
    for (r, _), o in zip(ready, done, strict=True):
        r.tx = o.tx_hash
        r.status = "registered" if o.ok else f"error: {o.error}"
    for r in todo:
        if not r.status.startswith("registered"):
            # The chain does not have it: leave no sealed record or card behind.
            store.path_of(sealed[r.address]).unlink(missing_ok=True)
            Path(r.card_file).unlink(missing_ok=True)
            r.card_file = ""
    rows = [[r.line, r.unit, r.address, r.status, r.tx, r.key_file, r.card_file] for r in parsed]
    if report_file is not None:
        write_table(report_file, ["line", "unit", "address", "status", "tx", "key_file", "card_file"], rows)
    counts = {s: sum(1 for r in parsed if r.status.split(":")[0] == s) for s in ("registered", "already registered", "error")}
    if opts.as_json:
        print_json({"registered": counts["registered"], "already": counts["already registered"],
                    "errors": counts["error"],
                    "rows": [dict(zip(["line", "unit", "address", "status", "tx", "key_file", "card_file"], row,
                                      strict=True)) for row in rows]})
    else:
        table(False, f"Households from {csv_file.name}", ["line", "unit", "address", "status"],
              [row[:4] for row in rows])
        click.echo(f"registered {counts['registered']}, already registered {counts['already registered']}, "
                   f"errors {counts['error']}")
    if counts["error"]:
        raise click.ClickException(f"{counts['error']} row(s) not registered; see the status column")


# --- the register's members, erasure on request, backup, access log -----------------------


def _store_errors(f: Any) -> Any:
    import functools

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except PrivacyError as exc:
            raise click.ClickException(f"{exc.message} [{exc.code}]") from exc

    return wrapper


def _member_key_option(f: Any) -> Any:
    return click.option("--key", "key_file", envvar="HKCHAIN_KEY", required=True, metavar="FILE",
                        help="Your key: a committee member the register is sealed to.")(f)


@households.command("members")
@click.argument("public_keys", nargs=-1)
@_member_key_option
@store_option
@_store_errors
def members(public_keys: tuple[str, ...], key_file: str, store_dir: Path) -> None:
    """Show the committee members the register is sealed to; with PUBLIC_KEYS (hex), make
    them the members and re-seal every record to them (when someone joins or leaves)."""
    store = PrivacyStore(store_dir)
    if public_keys:
        keys = []
        for text in public_keys:
            try:
                pk = bytes.fromhex(text.removeprefix("0x"))
            except ValueError:
                pk = b""
            if len(pk) != PUBLIC_KEY_SIZE:
                raise click.BadParameter(f"{text!r} is not a 64-hex-character public key", param_hint="PUBLIC_KEYS")
            keys.append(pk)
        n = store.set_members(keys, load_key(key_file))
        click.echo(f"{n} records re-sealed to {len(keys)} members")
    rows = [[address_of(pk), pk.hex()] for pk in store.members()]
    table(False, f"Committee members of {store.root}", ["address", "public key"], rows)


@households.command("forget")
@click.argument("address")
@_member_key_option
@store_option
@_store_errors
def forget(address: str, key_file: str, store_dir: Path) -> None:
    """Erase a household's personal data on its request (PIPL): the sealed record is
    destroyed, its commitment stays (on chain and in the register, marked erased)."""
    address_arg(address, "ADDRESS")
    store = PrivacyStore(store_dir)
    key = load_key(key_file)
    live = [r for r in store.find(address) if not r.erased_at]
    if not live:
        raise click.ClickException(f"no personal data of {address} in {store.root}")
    for r in live:
        store.erase(r.commitment, key, int(time.time()))
    click.echo(f"erased {len(live)} record(s) of {address}; the commitment stays on chain")


@households.command("backup")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the encrypted backup (keep it off the node).")
@store_option
@_store_errors
def backup(out_file: Path, store_dir: Path) -> None:
    """Write an encrypted backup of the register (passphrase from $HKCHAIN_BACKUP_PASSPHRASE
    or asked)."""
    data = PrivacyStore(store_dir).backup(_passphrase(confirm=True))
    fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    click.echo(f"backup of {store_dir} written to {out_file} ({len(data)} bytes, encrypted)")


@households.command("restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@store_option
@_store_errors
def restore(backup_file: Path, store_dir: Path) -> None:
    """Bring back the records of a backup that this register lacks (never an erased one)."""
    restored, skipped = PrivacyStore(store_dir).restore(backup_file.read_bytes(), _passphrase(confirm=False))
    click.echo(f"restored {restored} record(s); {skipped} already here (or erased) were left as they are")


@households.command("access-log")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@_store_errors
def access_log(store_dir: Path, as_json: bool) -> None:
    """Who opened which household's record, when and why."""
    entries = PrivacyStore(store_dir).access_log()
    rows = [[time_text(int(e.get("at", 0))), e.get("by"), e.get("household", "-"), e.get("purpose")]
            for e in entries]
    table(as_json, f"Access log of {store_dir}", ["at", "by", "household", "purpose"], rows, raw=entries)


def _passphrase(*, confirm: bool) -> str:
    env = os.environ.get("HKCHAIN_BACKUP_PASSPHRASE")
    if env:
        return env
    value: str = click.prompt("Backup passphrase", hide_input=True, confirmation_prompt=confirm)
    return value


def _verify_field(proof: FieldProof, challenge: str, rpc_url: str, as_json: bool) -> None:
    proof.check()
    rec = query(rpc_url, "households", "record", [proof.household])
    challenge_ok = proof.challenge == challenge
    valid = isinstance(rec, dict) and challenge_ok
    value: Any = None
    if isinstance(rec, dict):
        value = rec.get("unit") if proof.field == "unit" else f"{area_text(int(rec.get('area_dm2', 0)))} m²"
    result = {"valid": valid, "household": proof.household, "field": proof.field, "value": value,
              "registered": isinstance(rec, dict), "challenge_matches": challenge_ok}
    if as_json:
        print_json(result)
    else:
        print_pairs("Household field proof " + ("VALID" if valid else "NOT VALID"),
                    [(k, v) for k, v in result.items() if k != "valid"])
    if not valid:
        why = "the household is not registered" if not isinstance(rec, dict) else "the challenge differs"
        raise click.ClickException(f"proof not valid: {why}")

