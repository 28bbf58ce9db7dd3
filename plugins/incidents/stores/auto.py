"""The ``auto`` incident store: PostgreSQL first, JSON lines when it is away. Any thread.

Every record goes to the JSON lines folder first (the journal, kept on the bot's own
disk), then to PostgreSQL. So the journal always holds every record, and when
PostgreSQL cannot be reached the store goes on with the journal alone: writes are
acknowledged once the journal has them, reads come from the journal. The switch is
logged and shown by ``health()`` (the plugin's report line in ``!status`` and
``/healthz``); ``check`` (run by the plugin's poller, at least every ``retry_s``, 5
minutes by default) tries PostgreSQL again, and fails (``StoreDown``) only when the
journal cannot be written either: running on the journal is the degraded mode this
store exists for, not a failure that should take the bot out of service.

When PostgreSQL answers again (and at start), the two sides are reconciled by id:
what the journal has and the database lacks (the records written during the outage)
is copied into the database, and what the database has and the journal lacks (records
other programs wrote there) into the journal. Copies are idempotent, since each store
skips a record whose id it has (a snapshot whose version is not newer), so nothing
written during an outage is lost or doubled, even when the connection drops in the
middle of a copy. A record PostgreSQL refuses for its data (another tool wrote a
severity it does not allow) is logged and left in the journal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import TypeVar

from univac import StoreError

from ..model import Artifact, Batch, Event, Incident
from . import Health, IncidentStore, StoreDown
from .jsonl import JsonlStore
from .postgres import PostgresStore

log = logging.getLogger("univac.plugin.incidents")
T = TypeVar("T")


class AutoStore:
    """PostgreSQL with the JSON lines folder as journal and fallback (see the docstring)."""

    kind = "auto"

    def __init__(self, primary: PostgresStore, journal: JsonlStore) -> None:
        self.primary = primary
        self.journal = journal
        self._lock = threading.RLock()
        self._down_since: float | None = None
        self._reason = ""
        self._pending = 0
        self._journal_behind = False
        self.copied = 0
        """Records copied into PostgreSQL by the last reconciliation."""
        self._try_postgres()

    @property
    def on_journal(self) -> bool:
        """True while PostgreSQL is away and the journal alone is used."""
        return self._down_since is not None

    # writes -------------------------------------------------------------------------

    def write(self, batch: Batch) -> None:
        with self._lock:
            try:
                self.journal.write(batch)
                journaled = True
            except StoreDown:
                journaled = False
            if not self.on_journal:
                try:
                    self.primary.write(batch)
                    self._journal_behind |= not journaled
                    return
                except StoreDown:
                    self._fall_back()
            if not journaled:
                raise StoreDown("Neither the incident database nor the JSON lines folder "
                                "can be written right now; nothing was saved.")
            self._pending += len(batch)

    # reads --------------------------------------------------------------------------

    def incidents(self) -> list[Incident]:
        return self._read(lambda store: store.incidents())

    def incident(self, incident_id: str) -> Incident | None:
        return self._read(lambda store: store.incident(incident_id))

    def events(self, incident_id: str | None = None,
               types: Collection[str] = ()) -> list[Event]:
        return self._read(lambda store: store.events(incident_id, types))

    def artifacts(self, incident_id: str | None = None) -> list[Artifact]:
        return self._read(lambda store: store.artifacts(incident_id))

    def content(self, artifact: Artifact) -> bytes:
        return self._read(lambda store: store.content(artifact))

    def _read(self, read: Callable[[IncidentStore], T]) -> T:
        with self._lock:
            if not self.on_journal:
                try:
                    return read(self.primary)
                except StoreDown:
                    self._fall_back()
            return read(self.journal)

    # switching ----------------------------------------------------------------------

    def check(self) -> None:
        """Try PostgreSQL (again); StoreDown only when the journal, on which the store
        runs while PostgreSQL is away, cannot be written either."""
        with self._lock:
            if self.on_journal or self._journal_behind:
                self._try_postgres()
            else:
                try:
                    self.primary.check()
                except StoreDown:
                    self._fall_back()
            if self.on_journal:
                self.journal.check()

    def _try_postgres(self) -> None:
        try:
            self.primary.migrate()
            to_primary, to_journal = reconcile(self.journal, self.primary)
        except StoreDown:
            self._fall_back()
            return
        if self.on_journal:
            log.warning("incident store: PostgreSQL is back; copied %d record(s) written "
                        "while it was away", to_primary)
        elif to_primary or to_journal:
            log.info("incident store: reconciled: %d record(s) copied into PostgreSQL, %d "
                     "into the JSON lines folder", to_primary, to_journal)
        self.copied = to_primary
        self._down_since, self._reason = None, ""
        self._pending, self._journal_behind = 0, False

    def _fall_back(self) -> None:
        reason = self.primary.last_error or "no answer"
        if not self.on_journal:
            log.warning("incident store: PostgreSQL is unreachable (%s); keeping incidents "
                        "in the JSON lines folder %s until it is back", reason,
                        self.journal.folder)
            self._down_since = time.time()
        self._reason = reason

    def health(self) -> Health:
        journal = self.journal.health()
        if not self.on_journal:
            return Health(self.kind, "postgres",
                          f"PostgreSQL, journal in {self.journal.folder}", journal.problems,
                          "auto, writing to PostgreSQL (journal: JSON lines)")
        since = datetime.fromtimestamp(self._down_since or 0, UTC).strftime("%Y-%m-%d %H:%M UTC")
        detail = (f"JSON lines in {self.journal.folder} since {since}: PostgreSQL is "
                  f"unreachable ({self._reason}); {self._pending} record(s) to copy when "
                  "it is back")
        summary = (f"auto, degraded: writing to the JSON lines folder since {since}, "
                   f"PostgreSQL unreachable; {self._pending} record(s) to copy when it is back")
        return Health(self.kind, "jsonl", detail, journal.problems, summary)

    def close(self) -> None:
        self.primary.close()
        self.journal.close()


def reconcile(journal: JsonlStore, primary: PostgresStore) -> tuple[int, int]:
    """Copy what each side lacks to the other; (records copied to primary, to journal)."""
    to_primary = missing(journal, primary)
    to_journal = missing(primary, journal)
    copy_into(primary, to_primary)
    journal.write(to_journal)
    return len(to_primary), len(to_journal)


def missing(source: IncidentStore, target: IncidentStore) -> Batch:
    """The records ``source`` has and ``target`` lacks (or holds an older snapshot of)."""
    versions = {i.id: i.version for i in target.incidents()}
    have_events = {e.id for e in target.events()}
    have_artifacts = {a.id for a in target.artifacts()}
    return Batch(
        tuple(i for i in source.incidents() if i.version > versions.get(i.id, 0)),
        tuple(e for e in source.events() if e.id not in have_events),
        tuple((a, source.content(a)) for a in source.artifacts() if a.id not in have_artifacts),
    )


def copy_into(primary: PostgresStore, batch: Batch) -> None:
    """Write ``batch``; when the data of one record is refused, each record on its own."""
    try:
        primary.write(batch)
        return
    except StoreDown:
        raise
    except StoreError:
        log.warning("incident store: PostgreSQL refused part of the copy; copying record "
                    "by record")
    singles = [Batch(events=(e,)) for e in batch.events]
    singles += [Batch(artifacts=(a,)) for a in batch.artifacts]
    singles += [Batch(incidents=(i,)) for i in batch.incidents]
    for single in singles:
        try:
            primary.write(single)
        except StoreDown:
            raise
        except StoreError:
            log.error("incident store: PostgreSQL refused a record; it stays in the JSON "
                      "lines folder only: %s", single)
