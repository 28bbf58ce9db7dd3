"""Pytest fixture for a real PgBouncer in front of the test PostgreSQL, on 127.0.0.1.

Loaded for every test by tests/conftest.py. ``pgbouncer(mode)`` starts Debian's
PgBouncer (``scripts/install-test-servers`` installs it) in a temporary folder on a
free port, pooling every database of the ``postgres_server`` cluster in ``mode``
(``transaction`` or ``session``), and returns a function that turns a DSN of that
cluster into one through the pooler. PgBouncer refuses to run as root, so as root it
runs as ``nobody`` in a folder ``nobody`` owns.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

from tests.waiting import free_port

if TYPE_CHECKING:  # imported for real, it would load that fixture module twice
    from tests.integration.postgres_servers import Postgres

NOBODY = 65534

CONFIG = """\
[databases]
* = host=127.0.0.1 port={pg_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/userlist.txt
pool_mode = {mode}
default_pool_size = 4
logfile = {folder}/pgbouncer.log
"""


class PgBouncer:
    """One PgBouncer process pooling ``postgres`` in ``mode``."""

    def __init__(self, postgres: Postgres, mode: str) -> None:
        self.postgres = postgres
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="univac-pgbouncer-"))
        (self.dir / "userlist.txt").write_text('"postgres" ""\n')
        (self.dir / "pgbouncer.ini").write_text(CONFIG.format(
            pg_port=postgres.port, port=self.port, folder=self.dir, mode=mode))
        user: dict[str, object] = {}
        if os.geteuid() == 0:
            for path in (self.dir, *self.dir.iterdir()):
                os.chown(path, NOBODY, NOBODY)
            user = {"user": NOBODY, "group": NOBODY, "extra_groups": []}
        self.process = subprocess.Popen(
            ["pgbouncer", str(self.dir / "pgbouncer.ini")], cwd=self.dir,
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, **user)  # type: ignore[arg-type]
        self._wait()

    def dsn(self, dsn: str) -> str:
        """``dsn`` (of the PostgreSQL cluster) through the pooler instead."""
        return dsn.replace(f"port={self.postgres.port}", f"port={self.port}")

    def _wait(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                log = (self.dir / "pgbouncer.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"pgbouncer exited: {log}")
            try:
                psycopg.connect(self.dsn(self.postgres.dsn), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def pgbouncer(postgres_server: Postgres) -> Iterator[Callable[[str], PgBouncer]]:
    """Factory: a PgBouncer in the given pool mode in front of the test cluster."""
    started: list[PgBouncer] = []

    def start(mode: str) -> PgBouncer:
        started.append(PgBouncer(postgres_server, mode))
        return started[-1]

    yield start
    for bouncer in started:
        bouncer.close()
