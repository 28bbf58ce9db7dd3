"""The embedded state store: one SQLite file in the state folder. Layer: core; any thread.

The default backend (``[store] backend = "sqlite"``), on Python's own ``sqlite3``:
nothing to install or configure. The contract is in store.py. One connection serves
every thread behind a lock: SQLite runs one writer at a time anyway, and ``State``
keeps each plugin's records in memory, so the store only sees writes and one load per
plugin at start.

Durability: the journal is a write-ahead log (WAL), and a commit is durable (synced to
disk) before ``State`` lets its caller go on: a handler that answered "approved" or a
webhook delivery recorded as handled must not be forgotten by a machine that lost
power. The sync is grouped: SQLite commits with ``synchronous = NORMAL`` (a commit that
survives a killed process, at once), and ``commit`` returns a wait that syncs the log
file, so commits made while one sync runs share the next sync (group commit, as
databases do; the bot's writer thread, commits.py, makes the most of it by writing
every queued transaction before it waits). The log is written in order, so a sync
that covers a commit covers every commit before it. A write that
is killed half-way leaves the previous state: SQLite ignores a log that holds no commit.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from univac.errors import StaleEpochError, StoreError

log = logging.getLogger("univac.store")
T = TypeVar("T")

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # version 1
        "CREATE TABLE IF NOT EXISTS univac_state (namespace TEXT NOT NULL, key TEXT NOT NULL,"
        " value TEXT NOT NULL, epoch INTEGER, PRIMARY KEY (namespace, key)) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS univac_audit (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " epoch INTEGER, record TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS univac_lease (name TEXT PRIMARY KEY,"
        " epoch INTEGER NOT NULL, holder TEXT NOT NULL DEFAULT '')",
    ),
)
UPSERT = ("INSERT INTO univac_state (namespace, key, value, epoch) VALUES (?, ?, ?, ?)"
          " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,"
          " epoch = excluded.epoch")
DELETE = "DELETE FROM univac_state WHERE namespace = ? AND key = ?"
UNAVAILABLE = ("The bot cannot save its state right now (details are in its log); "
               "nothing was changed.")


@dataclass(frozen=True)
class Settings:
    """``[store]`` settings of the SQLite backend."""

    file: str = "state.sqlite3"
    """The database file, relative to the state folder."""

    def __post_init__(self) -> None:
        if not self.file:
            raise ValueError("file must not be empty")


def connect(settings: Settings, folder: Path) -> SqliteStore:
    """Open (and create) the database file in ``folder``; StoreError when impossible."""
    path = folder / Path(settings.file).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteStore(path)
    except (OSError, sqlite3.Error) as error:
        raise StoreError(f"cannot open the SQLite store {path}: {error}") from None


class SqliteStore:
    """The state store in one SQLite file (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=10.0, isolation_level=None,
                                   check_same_thread=False)
        mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            log.warning("SQLite store %s: no WAL on this file system (journal %s)", path, mode)
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._log = GroupSync(path.with_name(path.name + "-wal"))

    def load(self, namespace: str) -> dict[str, str]:
        query = "SELECT key, value FROM univac_state WHERE namespace = ?"
        with self._lock:
            return self._guard("read", lambda: dict(self._db.execute(query, (namespace,))))

    def commit(self, namespace: str, changes: Mapping[str, str | None],
               epoch: int | None) -> Callable[[], None]:
        """Commit; return the wait that makes the commit durable (see the docstring)."""
        return self.commit_many([(namespace, changes)], epoch)

    def commit_many(self, work: list[tuple[str, Mapping[str, str | None]]],
                    epoch: int | None) -> Callable[[], None]:
        """Several plugins' transactions as one (the writer thread's batch, commits.py)."""
        def write() -> None:
            for namespace, changes in work:
                sets = ((namespace, k, v, epoch) for k, v in changes.items() if v is not None)
                self._db.executemany(UPSERT, sets)
                gone = ((namespace, k) for k, v in changes.items() if v is None)
                self._db.executemany(DELETE, gone)

        return self._transaction(write, epoch)

    def append_audit(self, record: str, epoch: int | None) -> None:
        insert = "INSERT INTO univac_audit (epoch, record) VALUES (?, ?)"
        self._transaction(lambda: self._db.execute(insert, (epoch, record)), epoch)()

    def migrate(self, dry_run: bool = False) -> list[str]:
        with self._lock:
            version = self._guard("read", lambda: self._db.execute("PRAGMA user_version")
                                  .fetchone()[0])
        if version > len(MIGRATIONS):
            raise StoreError(f"the SQLite store {self.path} has schema version {version}, "
                             f"newer than this univac knows ({len(MIGRATIONS)}): upgrade univac")
        plan = [sql for step in MIGRATIONS[version:] for sql in step]
        if plan:
            plan.append(f"PRAGMA user_version = {len(MIGRATIONS)}")
        if plan and not dry_run:
            self._transaction(lambda: [self._db.execute(sql) for sql in plan], None)()
        return plan

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._log.close()

    def _transaction(self, work: Callable[[], object], epoch: int | None) -> Callable[[], None]:
        """Run ``work`` in one write transaction: all of it lands, or none. Returns the
        wait that makes it durable."""
        def run() -> int:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if epoch is not None:
                    self._check_epoch(epoch)
                work()
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            return self._log.committed()

        with self._lock:
            number = self._guard("write", run)
        return lambda: self._guard("sync", lambda: self._log.wait(number))

    def _rollback(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error as error:  # the original error is the one to report
            log.warning("SQLite store %s: rollback failed: %s", self.path, error)

    def _check_epoch(self, epoch: int) -> None:
        row = self._db.execute("SELECT epoch FROM univac_lease WHERE name = 'leader'").fetchone()
        if row is None or row[0] != epoch:
            held = "no lease" if row is None else f"the lease is at epoch {row[0]}"
            log.error("write refused: written with epoch %s but %s", epoch, held)
            raise StaleEpochError(f"refused: this instance is no longer the leader ({held})")

    def _guard(self, what: str, work: Callable[[], T]) -> T:
        try:
            return work()
        except (sqlite3.Error, OSError) as error:
            log.error("SQLite store %s: %s failed: %s", self.path, what, error)
            raise StoreError(UNAVAILABLE) from error


class GroupSync:
    """Syncs the write-ahead log once for every commit made since the last sync.

    ``committed()`` numbers a commit (call it under the store's lock, right after the
    commit); ``wait(number)`` returns once a sync that began after that commit has
    finished: the first waiter syncs, the others wait for it or find their commit
    already covered.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd = -1
        self._lock = threading.Lock()
        self._committed = 0
        self._synced = 0

    def committed(self) -> int:
        self._committed += 1
        return self._committed

    def wait(self, number: int) -> None:
        if self._synced >= number:
            return
        with self._lock:
            if self._synced >= number:
                return
            covered = self._committed
            if self._fd < 0:
                self._fd = os.open(self._path, os.O_RDONLY)
            os.fsync(self._fd)
            self._synced = covered

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
