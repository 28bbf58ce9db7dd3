"""The embedded state store: one SQLite file in the state folder. Layer: core; any thread.

The default backend (``[store] backend = "sqlite"``), on Python's own ``sqlite3``:
nothing to install or configure. The contract is in store.py. One connection serves
every thread behind a lock: SQLite runs one writer at a time anyway, and ``State``
keeps each plugin's records in memory, so the store only sees writes and one load per
plugin at start.

Durability: the journal is a write-ahead log (WAL) and ``synchronous = FULL``, so each
commit syncs the log to disk before it returns. With ``NORMAL`` (the usual WAL
setting) a commit survives a killed process but may be undone by a power cut or a
kernel crash; a handler that answered "approved" or a webhook delivery id recorded as
handled must not be forgotten by a machine that lost power, and the cost is one sync
per transaction, about what the former JSON files paid (performance.md, "State store").
A write that is killed half-way leaves the previous state: SQLite ignores a log that
holds no commit.
"""

from __future__ import annotations

import logging
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
        self._db.execute("PRAGMA synchronous = FULL")

    def load(self, namespace: str) -> dict[str, str]:
        query = "SELECT key, value FROM univac_state WHERE namespace = ?"
        with self._lock:
            return self._guard("read", lambda: dict(self._db.execute(query, (namespace,))))

    def commit(self, namespace: str, changes: Mapping[str, str | None],
               epoch: int | None) -> None:
        def write() -> None:
            sets = ((namespace, k, v, epoch) for k, v in changes.items() if v is not None)
            self._db.executemany(UPSERT, sets)
            gone = ((namespace, k) for k, v in changes.items() if v is None)
            self._db.executemany(DELETE, gone)

        self._transaction(write, epoch)

    def append_audit(self, record: str, epoch: int | None) -> None:
        insert = "INSERT INTO univac_audit (epoch, record) VALUES (?, ?)"
        self._transaction(lambda: self._db.execute(insert, (epoch, record)), epoch)

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
            self._transaction(lambda: [self._db.execute(sql) for sql in plan], None)
        return plan

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _transaction(self, work: Callable[[], object], epoch: int | None) -> None:
        """Run ``work`` in one write transaction: all of it lands, or none."""
        def run() -> None:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if epoch is not None:
                    self._check_epoch(epoch)
                work()
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

        with self._lock:
            self._guard("write", run)

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
        except sqlite3.Error as error:
            log.error("SQLite store %s: %s failed: %s", self.path, what, error)
            raise StoreError(UNAVAILABLE) from error
