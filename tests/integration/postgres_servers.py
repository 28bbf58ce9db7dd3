"""Pytest fixtures for a real PostgreSQL, started by the suite on 127.0.0.1.

Loaded for every test by tests/conftest.py. ``postgres_server`` runs Debian's
PostgreSQL (``scripts/install-test-servers`` installs it): ``initdb`` once in a temp
folder, then ``postgres`` as a child process on a free port. Both refuse to run as
root, so as root they run as ``nobody`` in a folder ``nobody`` owns. The postmaster
gets SIGINT (a fast shutdown) when the test runner dies (``PR_SET_PDEATHSIG``), so a
killed run leaves no cluster behind. ``postgres`` gives each test a fresh database and
yields its DSN.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.waiting import free_port

NOBODY = 65534
PR_SET_PDEATHSIG = 1
FAST = ("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")


def postgres_bin() -> Path:
    """The newest installed ``/usr/lib/postgresql/<version>/bin``."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                   key=lambda path: int("0" + "".join(filter(str.isdigit, path.parts[-3]))))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run scripts/install-test-servers")
    return found[-1].parent


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)


class Postgres:
    """One PostgreSQL cluster in a temporary folder; ``durable`` keeps fsync on."""

    def __init__(self, durable: bool = False) -> None:
        self.bin = postgres_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="univac-pg-"))  # under /tmp: nobody can reach it
        self.data = self.dir / "data"
        self.port = free_port()
        self.durable = durable
        self.as_user: dict[str, object] = {}
        if os.geteuid() == 0:
            os.chown(self.dir, NOBODY, NOBODY)
            self.as_user = {"user": NOBODY, "group": NOBODY, "extra_groups": []}
        self.dsn = (f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
                    " connect_timeout=5")
        self.process: subprocess.Popen[bytes] | None = None
        subprocess.run(
            [self.bin / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--locale=C.UTF-8", "-N"],
            check=True, capture_output=True, cwd=self.dir, **self.as_user)  # type: ignore[arg-type]

    def start(self, timeout: float = 60.0) -> Postgres:
        log = (self.dir / "pg.log").open("ab")
        options = () if self.durable else FAST
        self.process = subprocess.Popen(
            [self.bin / "postgres", "-D", self.data, "-p", str(self.port), "-k", self.dir,
             "-c", "listen_addresses=127.0.0.1", *options],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.dir, preexec_fn=_die_with_parent,
            **self.as_user)  # type: ignore[arg-type]
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(self.log_tail())
            try:
                psycopg.connect(self.dsn).close()
                return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def stop(self) -> None:
        """Fast shutdown (SIGINT): clients are disconnected, data is kept."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(60)
        self.process = None

    def create_database(self, name: str) -> str:
        """A new empty database; its DSN."""
        with psycopg.connect(self.dsn, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.dsn.replace("dbname=postgres", f"dbname={name}")

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def log_tail(self) -> str:
        return (self.dir / "pg.log").read_text(errors="replace")[-2000:]

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """One PostgreSQL cluster for the session (initdb takes about a second)."""
    server = Postgres().start()
    try:
        yield server
    finally:
        server.cleanup()


_numbers = itertools.count(1)


@pytest.fixture
def postgres(postgres_server: Postgres) -> Iterator[str]:
    """The DSN of a fresh, empty database, dropped after the test."""
    name = f"univac_test_{os.getpid()}_{next(_numbers)}"
    dsn = postgres_server.create_database(name)
    try:
        yield dsn
    finally:
        if postgres_server.process is None:
            postgres_server.start()
        postgres_server.drop_database(name)
