"""The committee register's commands: members and re-sealing, erasure on request, an
encrypted backup restored into an empty register, the access log."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cli.main import main
from core.crypto import PrivateKey
from privacy.register import HouseholdCard, HouseholdIdentity, PrivacyStore

A = PrivateKey.from_seed_text("register-cli-a")
B = PrivateKey.from_seed_text("register-cli-b")
HOME = PrivateKey.from_seed_text("register-cli-home")


def test_members_forget_backup_restore_and_log(tmp_path: Path) -> None:
    a_key, b_key = tmp_path / "a.key", tmp_path / "b.key"
    A.save(a_key)
    B.save(b_key)
    store = PrivacyStore(tmp_path / "register")
    card = HouseholdCard.issue(HOME.address, 8000, HouseholdIdentity.create("陈小明", "11010519491231002X",
                                                                          "+8613800138000"))
    store.add(card, A.public_key)
    env = {"HKCHAIN_PRIVACY_STORE": str(store.root), "HKCHAIN_BACKUP_PASSPHRASE": "长长的口令 long enough"}
    run = CliRunner().invoke

    joined = run(main, ["households", "members", A.public_key.hex(), B.public_key.hex(), "--key", str(a_key)],
                 env=env)
    assert joined.exit_code == 0, joined.output
    assert "1 records re-sealed to 2 members" in joined.output and B.address in joined.output
    revealed = run(main, ["households", "local", "--reveal", "--key", str(b_key)], env=env)
    assert revealed.exit_code == 0 and "陈小明" in revealed.output
    log = run(main, ["households", "access-log", "--json"], env=env)
    assert B.address in log.output and "households local --reveal" in log.output

    backup = tmp_path / "register.backup"
    made = run(main, ["households", "backup", "--out", str(backup)], env=env)
    assert made.exit_code == 0, made.output
    assert "陈小明".encode() not in backup.read_bytes()
    empty = {**env, "HKCHAIN_PRIVACY_STORE": str(tmp_path / "new-register")}
    back = run(main, ["households", "restore", str(backup)], env=empty)
    assert back.exit_code == 0 and "restored 1 record(s)" in back.output
    assert PrivacyStore(tmp_path / "new-register").open(
        PrivacyStore(tmp_path / "new-register").records()[0], A).identity.name == "陈小明"

    gone = run(main, ["households", "forget", HOME.address, "--key", str(a_key)], env=env)
    assert gone.exit_code == 0 and "erased 1 record(s)" in gone.output
    assert "陈小明" not in store.path_of(card.commitment).read_text()
    again = run(main, ["households", "forget", HOME.address, "--key", str(a_key)], env=env)
    assert again.exit_code == 1 and "no personal data" in again.output
    still = run(main, ["households", "restore", str(backup)], env=env)
    assert still.exit_code == 0 and "restored 0 record(s)" in still.output
    shown = run(main, ["households", "local", "--reveal", "--key", str(a_key)], env=env)
    assert "(erased on request)" in shown.output and "陈小明" not in shown.output
