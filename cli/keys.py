"""`hkchain keys`: create and inspect Ed25519 key files."""

from __future__ import annotations

import json
from pathlib import Path

import click

from core.crypto import PrivateKey, is_key_file_encrypted
from core.errors import KeyFileError


@click.group()
def keys() -> None:
    """Create and inspect key files (Ed25519, mode 0600)."""


@keys.command("new")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the key file.")
@click.option("--encrypt", is_flag=True, help="Ask for a passphrase and encrypt the secret.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--json", "as_json", is_flag=True, help="Print the address, public key and file as JSON.")
def keys_new(out: Path, encrypt: bool, force: bool, as_json: bool) -> None:
    """Generate a new key and write it to OUT; print its address."""
    if out.exists() and not force:
        raise click.ClickException(f"{out} exists; pass --force to overwrite it")
    passphrase = None
    if encrypt:
        passphrase = click.prompt("Passphrase", hide_input=True, confirmation_prompt=True)
    key = PrivateKey.generate()
    key.save(out, passphrase)
    if as_json:
        click.echo(json.dumps({"address": key.address, "public_key": key.public_key.hex(), "file": str(out),
                               "encrypted": encrypt}, ensure_ascii=False))
        return
    click.echo(f"address     {key.address}")
    click.echo(f"public key  {key.public_key.hex()}")
    click.echo(f"written to  {out} (mode 0600{', encrypted' if encrypt else ''})")


@keys.command("show")
@click.argument("key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def keys_show(key_file: Path) -> None:
    """Print the address and public key of KEY_FILE."""
    try:
        passphrase = None
        if is_key_file_encrypted(key_file):
            passphrase = click.prompt("Passphrase", hide_input=True)
        key = PrivateKey.load(key_file, passphrase)
    except KeyFileError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"address     {key.address}")
    click.echo(f"public key  {key.public_key.hex()}")
