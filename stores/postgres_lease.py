"""The leader lease on PostgreSQL (psycopg 3), for ``[ha]``. Layer: store adapter; the
core's ``leader:db`` thread (one call at a time).

The contract is in ``univac/engine/lease.py``; why it is safe, in docs/architecture.md.
The lease is two things in the store's database:

- a session advisory lock (``pg_try_advisory_lock(LOCK)``), held on a connection of its
  own, opened here, never the store's and never through a pool: PostgreSQL ends the
  lock when it ends the session, which it does at once when the process dies and the
  kernel closes the socket, and within about ``timeout_s`` when the host or the
  network dies (the session's own ``tcp_keepalives_*`` and ``tcp_user_timeout`` are
  set for that);
- the row ``univac_lease`` where ``name = 'leader'``: each takeover adds one to its
  epoch and writes the taker as ``holder``, a clean release empties ``holder``. Store
  writes read the row ``FOR SHARE`` and carry their epoch (fencing, store.py); the
  takeover's ``FOR UPDATE`` waits for such a write in flight.

A connection pooler in transaction mode (PgBouncer's ``pool_mode = transaction``)
hands each transaction to any server session: a session lock then belongs to no one in
particular, and two instances could both "hold" it. At connect the lease checks that a
second connection gets a session of its own and that the first keeps its own across
transactions; every confirmation checks that the backend holding the lock is still the
one that took it. Either failing refuses or ends the lease with a message naming the
likely cause.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from univac import StaleEpochError, StoreError

log = logging.getLogger("univac.leader")
LOCK = 0x756E69766164
"""The lease's advisory lock key; the store's migration lock is 0x756E69766163."""
ROW = "SELECT epoch, holder FROM univac_lease WHERE name = 'leader' FOR UPDATE"
TAKE = ("INSERT INTO univac_lease (name, epoch, holder) VALUES ('leader', %s, %s)"
        " ON CONFLICT (name) DO UPDATE SET epoch = excluded.epoch, holder = excluded.holder")
CONFIRM = ("SELECT l.epoch, pg_backend_pid(), EXISTS (SELECT 1 FROM pg_locks"
           " WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()"
           " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
           " AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1)"
           " FROM univac_lease l WHERE l.name = 'leader'")
RELEASE = "UPDATE univac_lease SET holder = '' WHERE name = 'leader' AND epoch = %s"
POOLED = ("the lease's connection does not keep a database session of its own ({}): a "
          "connection pooler in transaction mode, such as PgBouncer? Point [store] dsn "
          "at PostgreSQL itself (or at a pool in session mode)")


class PostgresLease:
    """The leader lease (see the module docstring); connects on first use."""

    def __init__(self, dsn: str, connect_timeout_s: int, timeout_s: float) -> None:
        self._dsn = dsn
        self._connect_timeout_s = connect_timeout_s
        self._timeout_s = timeout_s
        self._connection: psycopg.Connection[Any] | None = None
        self._pid = 0

    def acquire(self, holder: str) -> tuple[int, str] | None:
        connection = self._connected()
        taken = self._run(lambda: connection.execute(
            "SELECT pg_try_advisory_lock(%s)", (LOCK,)).fetchone())
        if not taken or not taken[0]:
            return None
        try:
            return self._run(lambda: self._take(connection, holder))
        except StoreError:
            self._run(lambda: connection.execute("SELECT pg_advisory_unlock(%s)", (LOCK,)))
            raise

    def confirm(self, epoch: int) -> None:
        assert self._connection is not None, "confirm before acquire"
        connection = self._connection
        row = self._run(lambda: connection.execute(
            CONFIRM, (LOCK >> 32, LOCK & 0xFFFFFFFF)).fetchone())
        if row is None:
            raise StoreError("the lease row univac_lease 'leader' is gone")
        held, pid, locked = row
        if held != epoch:
            raise StaleEpochError(f"another instance took the lease (epoch {held})")
        if pid != self._pid:
            raise StoreError(POOLED.format(f"backend {pid} answered, {self._pid} took the lock"))
        if not locked:
            raise StoreError("this session no longer holds the lease's advisory lock")

    def release(self, epoch: int) -> None:
        assert self._connection is not None, "release before acquire"
        connection = self._connection

        def release() -> None:
            with connection.transaction():
                connection.execute(RELEASE, (epoch,))
            connection.execute("SELECT pg_advisory_unlock(%s)", (LOCK,))

        self._run(release)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _take(self, connection: psycopg.Connection[Any], holder: str) -> tuple[int, str]:
        """Add one to the lease row's epoch (waiting at most ``timeout_s`` for a fenced
        write in flight); the new epoch and the previous holder."""
        with connection.transaction():
            wait_ms = int(self._timeout_s * 1000)
            connection.execute(f"SET LOCAL lock_timeout = {wait_ms}")
            row = connection.execute(ROW).fetchone()
            epoch, previous = (row[0] + 1, row[1]) if row else (1, "")
            connection.execute(TAKE, (epoch, holder))
        return epoch, previous

    def _connected(self) -> psycopg.Connection[Any]:
        if self._connection is not None and not self._connection.closed:
            return self._connection
        self.close()
        timeout = self._timeout_s
        count = max(1, int(timeout) - 1)
        try:
            connection = psycopg.connect(
                self._dsn, autocommit=True, application_name="univac leader",
                connect_timeout=self._connect_timeout_s, tcp_user_timeout=int(timeout * 1000),
                keepalives=1, keepalives_idle=1, keepalives_interval=1, keepalives_count=count)
        except psycopg.Error as error:
            raise StoreError(f"cannot connect to PostgreSQL: {one_line(error)}") from None
        try:  # kept only once checked: a refused connection is never used on a retry
            self._run(lambda: connection.execute(
                "SELECT set_config('tcp_keepalives_idle', '1', false),"
                " set_config('tcp_keepalives_interval', '1', false),"
                " set_config('tcp_keepalives_count', %s, false),"
                " set_config('tcp_user_timeout', %s, false)",
                (str(count), str(int(timeout * 1000)))))
            self._pid = self._run(lambda: self._own_session(connection))
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _own_session(self, connection: psycopg.Connection[Any]) -> int:
        """The backend pid of ``connection``, once sure it is a session of its own."""
        pid = int(connection.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
        with psycopg.connect(self._dsn, connect_timeout=self._connect_timeout_s) as probe:
            other = probe.execute("SELECT pg_backend_pid()").fetchone()  # opens a transaction
            if other and other[0] == pid:
                raise StoreError(POOLED.format(f"a second connection got backend {pid} too"))
            again = connection.execute("SELECT pg_backend_pid()").fetchone()
            if again and again[0] != pid:
                raise StoreError(POOLED.format(f"backend {pid}, then {again[0]}"))
        return pid

    def _run(self, work: Any) -> Any:
        """``work()``; a database error becomes StoreError (a broken connection is closed)."""
        try:
            return work()
        except StoreError:
            raise
        except psycopg.Error as error:
            if self._connection is not None and self._connection.closed:
                self._connection = None
            raise StoreError(f"lease: {one_line(error)}") from error


def one_line(error: BaseException) -> str:
    """The error's message on one line (libpq's have a hint on a second one)."""
    return " ".join(str(error).split()) or type(error).__name__
