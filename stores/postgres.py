"""The PostgreSQL state store (psycopg 3): ``[store] backend = "postgres"``. Layer: store
adapter; any thread.

For deployments that already run a database, and for two instances that share one
state and one audit trail. Same contract as the embedded SQLite store
(``univac/engine/store.py``): one record per key in ``univac_state``, audit records in
``univac_audit``, the leader lease row (whose epoch fences writes) in ``univac_lease``,
the schema version in ``univac_schema``. Values are JSON kept as ``text``, exactly as
written (``value::jsonb`` to query them). ``open_lease`` gives ``[ha]`` its leader
lease (postgres_lease.py).

One connection serves every thread behind a lock (autocommit; each write is one
explicit transaction). When the database goes away, the write in progress fails with
``StoreError`` (nothing was changed, the user of the handler is told so, the detail is
logged) and the next write connects again; for ``retry_s`` after a failed connection
attempt, writes fail at once instead of each waiting ``connect_timeout_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import conninfo

from univac import StaleEpochError, StoreError
from univac.stores.postgres_lease import PostgresLease, one_line

log = logging.getLogger("univac.store")
T = TypeVar("T")

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # version 1
        "CREATE TABLE IF NOT EXISTS univac_state (namespace text NOT NULL, key text NOT NULL,"
        " value text NOT NULL, epoch bigint, PRIMARY KEY (namespace, key))",
        "CREATE TABLE IF NOT EXISTS univac_audit (id bigserial PRIMARY KEY, epoch bigint,"
        " record text NOT NULL)",
        "CREATE TABLE IF NOT EXISTS univac_lease (name text PRIMARY KEY, epoch bigint NOT NULL,"
        " holder text NOT NULL DEFAULT '')",
    ),
)
SCHEMA_TABLE = "CREATE TABLE IF NOT EXISTS univac_schema (version integer NOT NULL)"
MIGRATION_LOCK = 0x756E69766163  # "univac": pg_advisory_xact_lock, one migration at a time
UPSERT = ("INSERT INTO univac_state (namespace, key, value, epoch) VALUES (%s, %s, %s, %s)"
          " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,"
          " epoch = excluded.epoch")
DELETE = "DELETE FROM univac_state WHERE namespace = %s AND key = %s"
LEASE = "SELECT epoch FROM univac_lease WHERE name = 'leader' FOR SHARE"
UNAVAILABLE = ("The bot cannot save its state right now (details are in its log); "
               "nothing was changed.")


@dataclass(frozen=True)
class Settings:
    """``[store]`` settings of the PostgreSQL backend."""

    dsn: str
    """libpq connection string or URI; a secret: give it as ``dsn_file`` or ``dsn_env``."""
    connect_timeout_s: int = 5
    timeout_s: float = 10.0
    """A write on a dead network link fails after this long (``tcp_user_timeout``)."""
    retry_s: float = 2.0

    def __post_init__(self) -> None:
        try:
            conninfo.conninfo_to_dict(self.dsn)
        except psycopg.Error:  # its text would quote the secret
            raise ValueError("dsn is not a PostgreSQL connection string "
                             "(key=value pairs or a postgresql:// URI)") from None
        if self.connect_timeout_s < 2 or self.timeout_s <= 0 or self.retry_s < 0:
            raise ValueError("connect_timeout_s must be at least 2, timeout_s positive "
                             "and retry_s not negative")


def connect(settings: Settings, folder: Path) -> PostgresStore:
    """Connect; StoreError with the reason when the database does not answer."""
    store = PostgresStore(settings)
    try:
        store.open_connection()
    except psycopg.Error as error:
        raise StoreError(f"cannot connect to PostgreSQL: {one_line(error)}") from None
    return store


def open_lease(settings: Settings, timeout_s: float) -> PostgresLease:
    """The leader lease for ``[ha]`` (postgres_lease.py), on a connection of its own that
    notices a dead link within about ``timeout_s``; it connects on first use."""
    return PostgresLease(settings.dsn, settings.connect_timeout_s, timeout_s)


class PostgresStore:
    """The state store in a PostgreSQL database (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._connection: psycopg.Connection[Any] | None = None
        self._retry_at = 0.0

    def open_connection(self) -> None:
        """Open the connection now (psycopg.Error when impossible)."""
        timeout = self._settings.timeout_s
        self._connection = psycopg.connect(
            self._settings.dsn, autocommit=True, application_name="univac",
            connect_timeout=self._settings.connect_timeout_s,
            tcp_user_timeout=int(timeout * 1000), keepalives=1,
            keepalives_idle=max(1, int(timeout)), keepalives_interval=1)

    def load(self, namespace: str) -> dict[str, str]:
        def read(cursor: psycopg.Cursor[Any]) -> dict[str, str]:
            cursor.execute("SELECT key, value FROM univac_state WHERE namespace = %s",
                           (namespace,))
            return dict(cursor.fetchall())

        return self._transaction("read", read, None)

    def commit(self, namespace: str, changes: Mapping[str, str | None],
               epoch: int | None) -> None:
        def write(cursor: psycopg.Cursor[Any]) -> None:
            sets = [(namespace, k, v, epoch) for k, v in changes.items() if v is not None]
            gone = [(namespace, k) for k, v in changes.items() if v is None]
            if sets:
                cursor.executemany(UPSERT, sets)
            if gone:
                cursor.executemany(DELETE, gone)

        self._transaction("write", write, epoch)

    def append_audit(self, record: str, epoch: int | None) -> None:
        insert = "INSERT INTO univac_audit (epoch, record) VALUES (%s, %s)"
        self._transaction("audit write", lambda cursor: cursor.execute(insert, (epoch, record)),
                          epoch)

    def migrate(self, dry_run: bool = False) -> list[str]:
        def run(cursor: psycopg.Cursor[Any]) -> list[str]:
            if not dry_run:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            statements = plan(version(cursor))
            for statement in [] if dry_run else statements:
                cursor.execute(statement)  # type: ignore[call-overload]
            return statements

        return self._transaction("migration", run, None, detailed=True)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _transaction(self, what: str, work: Callable[[psycopg.Cursor[Any]], T],
                        epoch: int | None, detailed: bool = False) -> T:
        """Run ``work`` in one transaction, fenced by ``epoch``; StoreError on failure."""
        with self._lock:
            connection = self._connect_again()
            try:
                with connection.transaction(), connection.cursor() as cursor:
                    if epoch is not None:
                        check_epoch(cursor, epoch)
                    return work(cursor)
            except psycopg.Error as error:
                if connection.closed:
                    self._connection = None
                log.error("PostgreSQL store: %s failed: %s", what, one_line(error))
                raise StoreError(one_line(error) if detailed else UNAVAILABLE) from error

    def _connect_again(self) -> psycopg.Connection[Any]:
        if self._connection is not None and not self._connection.closed:
            return self._connection
        if time.monotonic() < self._retry_at:
            raise StoreError(UNAVAILABLE)
        try:
            self.open_connection()
        except psycopg.Error as error:
            self._retry_at = time.monotonic() + self._settings.retry_s
            log.error("PostgreSQL store: cannot connect: %s", one_line(error))
            raise StoreError(UNAVAILABLE) from error
        log.info("PostgreSQL store: connected again")
        assert self._connection is not None
        return self._connection


def check_epoch(cursor: psycopg.Cursor[Any], epoch: int) -> None:
    """Refuse (StaleEpochError) unless the lease row holds ``epoch``; the row stays
    share-locked until the write commits, so a takeover waits for it."""
    row = cursor.execute(LEASE).fetchone()
    if row is None or row[0] != epoch:
        held = "no lease" if row is None else f"the lease is at epoch {row[0]}"
        log.error("write refused: written with epoch %s but %s", epoch, held)
        raise StaleEpochError(f"refused: this instance is no longer the leader ({held})")


def version(cursor: psycopg.Cursor[Any]) -> int:
    """The schema version of the database: 0 when it has no Univac tables."""
    exists = cursor.execute("SELECT to_regclass('univac_schema') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = cursor.execute("SELECT coalesce(max(version), 0) FROM univac_schema").fetchone()
    return int(row[0]) if row else 0


def plan(current: int) -> list[str]:
    """The statements that take the schema from ``current`` to the newest version."""
    if current > len(MIGRATIONS):
        raise StoreError(f"the database has schema version {current}, newer than this "
                         f"univac knows ({len(MIGRATIONS)}): upgrade univac")
    steps = [sql for step in MIGRATIONS[current:] for sql in step]
    if not steps:
        return []
    head = [SCHEMA_TABLE] if current == 0 else []
    tail = ["DELETE FROM univac_schema",
            f"INSERT INTO univac_schema (version) VALUES ({len(MIGRATIONS)})"]
    return head + steps + tail
