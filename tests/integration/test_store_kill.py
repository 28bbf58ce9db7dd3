"""A process killed with SIGKILL in the middle of a state transaction leaves the state of
the last committed transaction: all of the interrupted one's changes, or none.

The child rewrites every key of a plugin's state with a new generation number in one
``with state:`` block, over and over. The test kills it once it is seen in the middle
of the store's write transaction, with part of the transaction already written:
SQLite: it holds the write lock and the log file has grown since (the transaction is
larger than SQLite's page cache, so its first pages spill into the log before the
commit); PostgreSQL: its session's transaction, still the same one, has written more
than 200 kB of log. Then every key must hold the same generation: the last one the
child reported, or (had the commit won the race with the kill) the one it was writing.
A store that committed row by row fails this test.
"""

from __future__ import annotations

import ctypes
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from univac.engine.state import State
from univac.engine.store import StoreEntry, open_store
from univac.stores import postgres

pytestmark = pytest.mark.integration

KEYS = 5_000
CHILD = f"""
import itertools, sys
from pathlib import Path
from univac.engine.state import State
from univac.engine.store import StoreEntry, open_store
from univac.stores import postgres
backend, where = sys.argv[1], sys.argv[2]
entry = StoreEntry() if backend == "sqlite" else StoreEntry(
    "postgres", postgres, postgres.Settings(dsn=where))
state = State(open_store(entry, Path(where)), "kill")
for generation in itertools.count(1):
    with state:
        for number in range({KEYS}):
            state[f"k{{number:05d}}"] = {{"g": generation, "pad": "x" * 1000}}
    print(generation, flush=True)
"""


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def entry_for(backend: str, where: str) -> StoreEntry:
    if backend == "sqlite":
        return StoreEntry()
    return StoreEntry("postgres", postgres, postgres.Settings(dsn=where))


def sqlite_half_written(where: str) -> Callable[[], bool]:
    """True once the child holds the write lock and its log grew while it held it."""
    probe = sqlite3.connect(Path(where) / "state.sqlite3", timeout=0, isolation_level=None)
    log = Path(where) / "state.sqlite3-wal"
    seen: list[tuple[int, int]] = []

    def locked() -> bool:
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # the child is inside its write transaction
            return True
        probe.execute("ROLLBACK")
        return False

    def half_written() -> bool:
        if not locked():
            seen.clear()
            return False
        now = log.stat()
        seen.append((now.st_size, now.st_mtime_ns))
        return seen[0] != seen[-1] and locked()

    return half_written


def postgres_half_written(dsn: str) -> Callable[[], bool]:
    """True once the child's transaction, still the same one, wrote 200 kB of log."""
    probe = psycopg.connect(dsn, autocommit=True)
    query = ("SELECT backend_xid::text, pg_current_wal_insert_lsn()::text FROM pg_stat_activity"
             " WHERE application_name = 'univac' AND datname = current_database()")
    start: list[tuple[str, str]] = []

    def half_written() -> bool:
        row = probe.execute(query).fetchone()
        if row is None or row[0] is None:
            start.clear()
            return False
        if not start or start[0][0] != row[0]:
            start[:] = [row]
            return False
        grown = probe.execute("SELECT pg_wal_lsn_diff(%s, %s)", (row[1], start[0][1])).fetchone()
        return bool(grown and grown[0] > 200_000)

    return half_written


def postgres_sessions_gone(dsn: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as probe:
        query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'univac'"
        row = probe.execute(query).fetchone()
        return bool(row) and row[0] == 0


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kill_in_the_middle_of_a_transaction(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    where = request.getfixturevalue("postgres") if backend == "postgres" else str(tmp_path)
    open_store(entry_for(backend, where), Path(where)).close()  # the schema, before the child
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, backend, where], stdout=subprocess.PIPE, text=True,
        preexec_fn=_die_with_parent)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "1"  # a committed generation to keep
        assert child.stdout.readline().strip() == "2"
        probe = sqlite_half_written if backend == "sqlite" else postgres_half_written
        half_written = probe(where)
        deadline = time.monotonic() + 120
        while not half_written():
            assert time.monotonic() < deadline, "the child was never seen half-way in a write"
        child.send_signal(signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
        reported = [int(line) for line in child.stdout.read().split()] or [2]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
    if backend == "postgres":
        deadline = time.monotonic() + 30
        while not postgres_sessions_gone(where):
            assert time.monotonic() < deadline, "the killed session stays open"
            time.sleep(0.01)
    store = open_store(entry_for(backend, where), Path(where))
    try:
        state = State(store, "kill")
        keys = state.keys()
        generations = {state[key]["g"] for key in keys}
        assert len(keys) == KEYS
        assert len(generations) == 1, f"a transaction landed in part: {sorted(generations)}"
        assert generations <= {reported[-1], reported[-1] + 1}
    finally:
        store.close()
    if backend == "sqlite":
        with sqlite3.connect(tmp_path / "state.sqlite3") as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
