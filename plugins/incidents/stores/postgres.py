"""The ``postgres`` incident store: three tables, psycopg 3. Any thread (one lock).

Tables ``incidents`` (one row per incident, its newest snapshot), ``incident_events``
and ``incident_artifacts`` (the file's content in the row), made by ``migrate``: every
statement is ``CREATE ... IF NOT EXISTS``, run in one transaction under an advisory
lock, so running it again, or from two places at once, changes nothing
(``univac incidents migrate``; ``--dry-run`` prints the statements). There are no
foreign keys: events may name incidents another tool has not written yet.

Each ``write`` is one transaction: events and artifacts are inserted unless their id is
there (``ON CONFLICT DO NOTHING``), a snapshot replaces the row only when its
``version`` is higher. So writing a record twice, or copying records back after an
outage, never doubles anything.

One connection serves every thread behind a lock (autocommit; explicit transactions).
A new connection first makes the tables if they are missing (unless ``make_tables``
is off), so a database that was down when the bot started is set up when it comes.
When the database goes away, the call fails with ``StoreDown`` (its text is for chat;
the detail goes to the log) and the next call connects again; a change the database
refuses for its data (a check constraint) fails with a plain ``StoreError``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from typing import Any, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from univac import StoreError

from ..model import Artifact, Batch, Event, Incident, parse_time, timestamp
from . import Health, StoreDown

log = logging.getLogger("univac.plugin.incidents")
T = TypeVar("T")
MIGRATION_LOCK = 0x696E63696474  # pg_advisory_xact_lock: one migration at a time
UNREACHABLE = "The incident database cannot be reached right now (details are in the bot's log)."
REFUSED = "The incident database refused the change (details are in the bot's log)."

DDL: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS incidents (\n"
    "  id text PRIMARY KEY,\n  title text NOT NULL,\n  service text NOT NULL,\n"
    "  env text NOT NULL,\n"
    "  severity text NOT NULL CHECK (severity IN ('P0', 'P1', 'P2', 'P3')),\n"
    "  status text NOT NULL CHECK (status IN ('open', 'resolved', 'closed')),\n"
    "  started_at timestamptz NOT NULL,\n  created_by text NOT NULL,\n"
    "  created_at timestamptz NOT NULL,\n  updated_at timestamptz NOT NULL,\n"
    "  coordinator text NOT NULL DEFAULT '',\n  resolved_at timestamptz,\n"
    "  closed_at timestamptz,\n  version integer NOT NULL,\n"
    "  refs jsonb NOT NULL DEFAULT '{}',\n  meta jsonb NOT NULL DEFAULT '{}'\n)",
    "CREATE TABLE IF NOT EXISTS incident_events (\n"
    "  id text PRIMARY KEY,\n  incident_id text,\n  ts timestamptz NOT NULL,\n"
    "  type text NOT NULL,\n  message text NOT NULL,\n  actor text NOT NULL,\n"
    "  meta jsonb NOT NULL DEFAULT '{}',\n  seq bigserial NOT NULL\n)",
    "CREATE INDEX IF NOT EXISTS incident_events_by_incident"
    " ON incident_events (incident_id, ts, seq)",
    "CREATE TABLE IF NOT EXISTS incident_artifacts (\n"
    "  id text PRIMARY KEY,\n  incident_id text NOT NULL,\n  name text NOT NULL,\n"
    "  format text NOT NULL CHECK (format IN ('json', 'md', 'txt')),\n"
    "  size_bytes integer NOT NULL CHECK (size_bytes BETWEEN 0 AND 2097152),\n"
    "  sha256 text NOT NULL,\n  path text NOT NULL,\n  content text NOT NULL,\n"
    "  created_at timestamptz NOT NULL,\n  created_by text NOT NULL\n)",
    "CREATE INDEX IF NOT EXISTS incident_artifacts_by_incident"
    " ON incident_artifacts (incident_id)",
)
INCIDENT_COLUMNS = ("id", "title", "service", "env", "severity", "status", "started_at",
                    "created_by", "created_at", "updated_at", "coordinator", "resolved_at",
                    "closed_at", "version", "refs", "meta")
EVENT_COLUMNS = ("id", "incident_id", "ts", "type", "message", "actor", "meta")
ARTIFACT_COLUMNS = ("id", "incident_id", "name", "format", "size_bytes", "sha256", "path",
                    "created_at", "created_by")
TIMES = {"started_at", "created_at", "updated_at", "resolved_at", "closed_at", "ts"}
UPDATED = ", ".join(f"{c} = excluded.{c}" for c in INCIDENT_COLUMNS[1:])
UPSERT_INCIDENT = (f"INSERT INTO incidents ({', '.join(INCIDENT_COLUMNS)}) VALUES "
                   f"({', '.join(['%s'] * len(INCIDENT_COLUMNS))}) ON CONFLICT (id) DO UPDATE "
                   f"SET {UPDATED} WHERE incidents.version < excluded.version")
INSERT_EVENT = (f"INSERT INTO incident_events ({', '.join(EVENT_COLUMNS)}) VALUES "
                f"({', '.join(['%s'] * len(EVENT_COLUMNS))}) ON CONFLICT (id) DO NOTHING")
INSERT_ARTIFACT = (f"INSERT INTO incident_artifacts ({', '.join(ARTIFACT_COLUMNS)}, content)"
                   f" VALUES ({', '.join(['%s'] * (len(ARTIFACT_COLUMNS) + 1))})"
                   " ON CONFLICT (id) DO NOTHING")


class PostgresStore:
    """Incident records in PostgreSQL (see the module docstring)."""

    kind = "postgres"

    def __init__(self, dsn: str, connect_timeout_s: int = 5, timeout_s: float = 10.0,
                 make_tables: bool = True) -> None:
        self._dsn = dsn
        self._make_tables = make_tables
        self._connect_timeout_s = connect_timeout_s
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._connection: psycopg.Connection[Any] | None = None
        self.last_error = ""

    def migrate(self, dry_run: bool = False) -> list[str]:
        """Create the tables if missing; the statements (only listed with ``dry_run``)."""
        if dry_run:
            return list(DDL)

        return self._transaction("migration", _create_tables)

    # writes -------------------------------------------------------------------------

    def write(self, batch: Batch) -> int:
        """Save the batch in one transaction; the number of rows it added or changed."""
        def run(cursor: psycopg.Cursor[Any]) -> int:
            changed = 0
            for statement, rows in (
                (INSERT_EVENT, [_row(e.to_record(), EVENT_COLUMNS) for e in batch.events]),
                (INSERT_ARTIFACT, [(*_row(a.to_record(), ARTIFACT_COLUMNS), c.decode())
                                   for a, c in batch.artifacts]),
                (UPSERT_INCIDENT, [_row(i.to_record(), INCIDENT_COLUMNS)
                                   for i in batch.incidents]),
            ):
                for row in rows:
                    cursor.execute(statement, row)  # type: ignore[arg-type]
                    changed += max(cursor.rowcount, 0)
            return changed

        return self._transaction("write", run) if len(batch) else 0

    # reads --------------------------------------------------------------------------

    def incidents(self) -> list[Incident]:
        return [Incident.from_record(r) for r in self._select(
            INCIDENT_COLUMNS, "incidents", "", (), "created_at, id")]

    def incident(self, incident_id: str) -> Incident | None:
        rows = self._select(INCIDENT_COLUMNS, "incidents", "id = %s", (incident_id,), "id")
        return Incident.from_record(rows[0]) if rows else None

    def events(self, incident_id: str | None = None,
               types: Collection[str] = ()) -> list[Event]:
        where, args = [], []
        if incident_id is not None:
            where.append("incident_id = %s")
            args.append(incident_id)
        if types:
            where.append("type = ANY(%s)")
            args.append(list(types))
        rows = self._select(EVENT_COLUMNS, "incident_events", " AND ".join(where),
                            tuple(args), "ts, seq")
        return [Event.from_record(r) for r in rows]

    def artifacts(self, incident_id: str | None = None) -> list[Artifact]:
        where, args = ("incident_id = %s", (incident_id,)) if incident_id else ("", ())
        rows = self._select(ARTIFACT_COLUMNS, "incident_artifacts", where, args,
                            "created_at, id")
        return [Artifact.from_record(r) for r in rows]

    def content(self, artifact: Artifact) -> bytes:
        rows = self._select(("content",), "incident_artifacts", "id = %s", (artifact.id,), "id")
        if not rows:
            raise StoreDown(f"The artifact {artifact.name} is not in the database.")
        return str(rows[0]["content"]).encode()

    def _select(self, columns: tuple[str, ...], table: str, where: str,
                args: tuple[Any, ...], order: str) -> list[dict[str, Any]]:
        query = (f"SELECT {', '.join(columns)} FROM {table}"
                 f"{' WHERE ' + where if where else ''} ORDER BY {order}")

        def run(cursor: psycopg.Cursor[Any]) -> list[dict[str, Any]]:
            cursor.execute(query, args)  # type: ignore[arg-type]
            return [_record(columns, row) for row in cursor.fetchall()]

        return self._transaction("read", run)

    # health -------------------------------------------------------------------------

    def check(self) -> None:
        """StoreDown unless the database answers."""
        self._transaction("check", lambda cursor: cursor.execute("SELECT 1"))

    def health(self) -> Health:
        up = self._connection is not None and not self._connection.closed
        detail = "connected" if up else f"not connected: {self.last_error or 'no try yet'}"
        return Health(self.kind, "postgres", detail, (),
                      f"postgres, {'connected' if up else 'not connected'}")

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    # the connection -----------------------------------------------------------------

    def _transaction(self, what: str, work: Callable[[psycopg.Cursor[Any]], T]) -> T:
        """Run ``work`` in one transaction; StoreDown when the database cannot."""
        with self._lock:
            try:
                try:
                    return self._run(work)
                except (psycopg.OperationalError, psycopg.InterfaceError) as stale:
                    if not self._dropped(stale):
                        raise
                    return self._run(work)  # once more, on a new connection: safe, since
                    # every write is idempotent and a read changes nothing
            except (psycopg.OperationalError, psycopg.InterfaceError) as error:
                self._failed(what, error)
                raise StoreDown(UNREACHABLE) from None
            except psycopg.Error as error:  # the data, not the link: the store is up
                self._failed(what, error)
                raise StoreError(REFUSED) from None

    def _run(self, work: Callable[[psycopg.Cursor[Any]], T]) -> T:
        connection = self._connected()
        with connection.transaction(), connection.cursor() as cursor:
            return work(cursor)

    def _dropped(self, error: psycopg.Error) -> bool:
        """True when an open connection turned out dead (the server restarted): it is
        forgotten, and the call may be made again on a new one."""
        connection = self._connection
        if connection is None or not (connection.closed or connection.broken):
            return False
        log.info("incident store (PostgreSQL): the connection was lost (%s); connecting "
                 "again", " ".join(str(error).split()))
        self._connection = None
        return True

    def _connected(self) -> psycopg.Connection[Any]:
        if self._connection is None or self._connection.closed:
            timeout_ms = int(self._timeout_s * 1000)
            self._connection = psycopg.connect(
                self._dsn, autocommit=True, application_name="univac-incidents",
                connect_timeout=self._connect_timeout_s, tcp_user_timeout=timeout_ms,
                keepalives=1, keepalives_idle=max(1, int(self._timeout_s)),
                keepalives_interval=1, options=f"-c statement_timeout={timeout_ms}")
            if self._make_tables:
                with self._connection.transaction(), self._connection.cursor() as cursor:
                    _create_tables(cursor)
        return self._connection

    def _failed(self, what: str, error: psycopg.Error) -> None:
        self.last_error = " ".join(str(error).split()) or type(error).__name__
        log.error("incident store (PostgreSQL): %s failed: %s", what, self.last_error)
        if self._connection is not None and (self._connection.closed or
                                             self._connection.broken):
            self._connection = None


def _create_tables(cursor: psycopg.Cursor[Any]) -> list[str]:
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
    for statement in DDL:
        cursor.execute(statement)  # type: ignore[arg-type]
    return list(DDL)


def _row(record: dict[str, Any], columns: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(_column(name, record.get(name)) for name in columns)


def _column(name: str, value: Any) -> Any:
    if name in TIMES and value is not None:
        return parse_time(str(value))
    return Jsonb(value) if isinstance(value, dict) else value


def _record(columns: tuple[str, ...], row: tuple[Any, ...]) -> dict[str, Any]:
    record = dict(zip(columns, row, strict=True))
    for name in TIMES & set(columns):
        if record.get(name) is not None:
            record[name] = timestamp(record[name])
    return record
