"""A throw-away PostgreSQL server for tests, started from the binaries installed on the machine.

``initdb`` and ``pg_ctl`` run on a fresh temporary directory; the server listens on 127.0.0.1 on a free port
(and on a Unix socket in that directory), trusts local connections and loses its data when it stops. PostgreSQL
refuses to run as root, so as root the directory is handed to the ``postgres`` user and the binaries run as
that user (``runuser``, else ``su``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

BIN_ENV = "FER_BENCH_PG_BIN"  # a folder holding initdb and pg_ctl, when they are somewhere unusual
RUN_AS = "postgres"


class Unavailable(Exception):
    """No server can be started here (binaries or the user to run them as are missing)."""


def find_bindir() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``: $FER_BENCH_PG_BIN, the PATH, or Debian's /usr/lib/postgresql/N/bin."""
    candidates = [os.environ.get(BIN_ENV, "")]
    on_path = shutil.which("initdb")
    candidates.append(str(Path(on_path).parent) if on_path else "")
    # Debian keeps initdb out of the PATH, one folder per major version: take the newest.
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                         if Path(p).parent.name.isdigit() else 0, reverse=True)
    for folder in filter(None, candidates):
        if all((Path(folder) / tool).is_file() for tool in ("initdb", "pg_ctl")):
            return Path(folder)
    raise Unavailable("no PostgreSQL server binaries (initdb, pg_ctl) on this machine: install the "
                      f"'postgresql' package or set {BIN_ENV}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """``start()`` initialises and starts a server; ``url(db)`` is a SQLAlchemy URL; ``stop()`` removes it."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                pwd.getpwnam(RUN_AS)
            except KeyError:
                raise Unavailable(f"running as root and there is no '{RUN_AS}' user to run PostgreSQL as "
                                  "(PostgreSQL refuses to run as root)") from None
        self.root = Path(tempfile.mkdtemp(prefix="fer-bench-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self.user = RUN_AS if self.as_root else pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, *cmd: str, timeout: float = 120) -> None:
        args = [str(self.bindir / cmd[0]), *cmd[1:]]
        if self.as_root:
            runuser = shutil.which("runuser")
            args = [runuser, "-u", RUN_AS, "--", *args] if runuser else ["su", RUN_AS, "-s", "/bin/sh", "-c",
                                                                         shlex.join(args)]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if proc.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]} {tail}")

    def start(self) -> PostgresServer:
        if self.as_root:
            shutil.chown(self.root, RUN_AS, RUN_AS)
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync")
        for attempt in range(3):  # the free port may be taken between asking and binding: try another
            self.port = _free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options,
                          "-w", "-t", "60", "start")
                return self
            except RuntimeError:
                if attempt == 2:
                    raise
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres",
                             autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            if self.data.exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

