"""A real PostgreSQL server for the tests: Debian's ``postgresql`` binaries, a cluster
initialised in a temp dir and started on a free port of 127.0.0.1 (its unix socket in the
temp dir too), stopped at the end. No mock database.

PostgreSQL refuses to run as root: when the tests run as root, initdb and the server run
as the ``postgres`` user (or ``nobody``) through runuser. Under CI (CI=true) a missing
PostgreSQL is an error, not a skip: .ci/run installs it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.node.harness import free_port

PG_ROOT = Path("/usr/lib/postgresql")
START_TIMEOUT_S = 60


def pg_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin dir, or None."""
    found = sorted((d / "bin" for d in PG_ROOT.glob("*") if (d / "bin" / "pg_ctl").exists()),
                   key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _run_as() -> tuple[list[str], str | None]:
    if os.geteuid() != 0:
        return [], None
    for user in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user)
            return ["runuser", "-u", user, "--"], user
    raise RuntimeError("running as root and no postgres or nobody user to run PostgreSQL as")


class PostgresServer:
    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="hk-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.prefix, self.user = _run_as()
        self.db_user = "hkchain"
        self._n = 0

    def _cmd(self, name: str, *args: str) -> list[str]:
        return [*self.prefix, str(self.bin_dir / name), *args]

    def start(self) -> None:
        if self.user is not None:
            shutil.chown(self.root, self.user)
            self.root.chmod(0o700)
        subprocess.run(self._cmd("initdb", "-D", str(self.data), "-U", self.db_user, "--auth=trust",
                                 "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"),
                       check=True, capture_output=True, timeout=START_TIMEOUT_S)
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
                "-c fsync=off -c max_connections=50")
        subprocess.run(self._cmd("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", opts,
                                 "-w", "-t", str(START_TIMEOUT_S), "start"),
                       check=True, capture_output=True, timeout=START_TIMEOUT_S + 10)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(self._cmd("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"),
                           capture_output=True, timeout=START_TIMEOUT_S)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, db: str) -> str:
        return f"postgresql://{self.db_user}@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """A fresh empty database; its URL."""
        import psycopg

        self._n += 1
        name = f"hk_test_{self._n}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.db_user} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # a name of our own making, not input
        return self.url(name)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer | str]:
    """A running server, or (outside CI only) the reason there is none."""
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI", "").lower() == "true":
            raise RuntimeError("CI=true but no PostgreSQL binaries under /usr/lib/postgresql: "
                               "install Debian's postgresql (.ci/run does)")
        yield "no PostgreSQL binaries found (apt-get install postgresql)"
        return
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
