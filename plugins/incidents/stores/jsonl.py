"""The ``jsonl`` incident store: the incident log's folder layout. Any thread (one lock).

::

    <folder>/incidents.jsonl     incident snapshots, one JSON object per line
    <folder>/events.jsonl        timeline events
    <folder>/artifacts.jsonl     artifact metadata
    <folder>/<incident_id>/      artifact files (json, md, txt; at most 2 MB each)

Plain UTF-8 JSON lines, one record per line ending in a newline, appended and never
rewritten, so ``jq``, ``grep`` and the incident log's own tools read the folder as it
is, while the bot runs. Appends are atomic per record and fsynced; a torn last line is
set aside at start (``lines.py``). An artifact file is written to a temporary file,
fsynced and renamed before its record is appended.

Records other programs wrote are read as they are: keys the plugin does not know are
kept in ``meta``, and an event or artifact without an id gets one made from its content.
Reads come from an index in memory, brought up to date from the files' new lines before
each read (lines other programs append included). A changed incident is a new
snapshot line; the snapshot with the highest ``version`` wins.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Collection
from pathlib import Path

from ..model import SAFE_NAME, Artifact, Batch, Event, Incident
from . import Health, StoreDown
from .lines import JsonLines, write_file

log = logging.getLogger("univac.plugin.incidents")
UNWRITABLE = "The incident log cannot be written right now (details are in the bot's log)."


class JsonlStore:
    """Incident records in a folder of JSON lines files (see the module docstring)."""

    kind = "jsonl"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._files = {name: JsonLines(folder / f"{name}.jsonl")
                           for name in ("incidents", "events", "artifacts")}
        except OSError as error:
            log.error("incident store: cannot open %s: %s", folder, error)
            raise StoreDown(UNWRITABLE) from None
        self._lock = threading.RLock()
        self._incidents: dict[str, Incident] = {}
        self._events: dict[str, Event] = {}
        self._timelines: dict[str | None, list[Event]] = {}
        self._artifacts: dict[str, Artifact] = {}
        self._refresh()

    # writes -------------------------------------------------------------------------

    def write(self, batch: Batch) -> None:
        with self._lock:
            self._refresh()
            events = [e for e in batch.events if e.id not in self._events]
            artifacts = [(a, c) for a, c in batch.artifacts if a.id not in self._artifacts]
            incidents = [i for i in batch.incidents if self._newer(i)]
            try:
                for artifact, content in artifacts:
                    write_file(self._path_of(artifact), content)
                self._files["events"].append([e.to_record() for e in events])
                self._files["artifacts"].append([a.to_record() for a, _ in artifacts])
                self._files["incidents"].append([i.to_record() for i in incidents])
            except OSError as error:
                log.error("incident store: cannot write to %s: %s", self.folder, error)
                raise StoreDown(UNWRITABLE) from None
            finally:
                self._refresh()

    def _newer(self, incident: Incident) -> bool:
        known = self._incidents.get(incident.id)
        return known is None or incident.version > known.version

    def _path_of(self, artifact: Artifact) -> Path:
        if not (SAFE_NAME.fullmatch(artifact.incident_id) and SAFE_NAME.fullmatch(artifact.name)):
            raise StoreDown(f"'{artifact.incident_id}/{artifact.name}' cannot be a file name.")
        return self.folder / artifact.incident_id / artifact.name

    # reads --------------------------------------------------------------------------

    def incidents(self) -> list[Incident]:
        with self._lock:
            self._refresh()
            return list(self._incidents.values())

    def incident(self, incident_id: str) -> Incident | None:
        with self._lock:
            self._refresh()
            return self._incidents.get(incident_id)

    def events(self, incident_id: str | None = None,
               types: Collection[str] = ()) -> list[Event]:
        with self._lock:
            self._refresh()
            found = (self._timelines.get(incident_id, []) if incident_id is not None
                     else list(self._events.values()))
            return [e for e in found if not types or e.type in types]

    def artifacts(self, incident_id: str | None = None) -> list[Artifact]:
        with self._lock:
            self._refresh()
            return [a for a in self._artifacts.values()
                    if incident_id is None or a.incident_id == incident_id]

    def content(self, artifact: Artifact) -> bytes:
        try:
            return self._path_of(artifact).read_bytes()
        except OSError as error:
            log.error("incident store: cannot read %s: %s", artifact.path, error)
            raise StoreDown(f"The artifact {artifact.name} cannot be read.") from None

    def _refresh(self) -> None:
        """Fold the lines added to the three files since the last look."""
        for record in self._files["events"].read_new():
            event = _load(Event, _with_id(record, "ev"), "events.jsonl")
            if isinstance(event, Event) and event.id not in self._events:
                self._events[event.id] = event
                self._timelines.setdefault(event.incident_id, []).append(event)
        for record in self._files["artifacts"].read_new():
            artifact = _load(Artifact, _with_id(record, "art"), "artifacts.jsonl")
            if isinstance(artifact, Artifact):
                self._artifacts.setdefault(artifact.id, artifact)
        for record in self._files["incidents"].read_new():
            incident = _load(Incident, record, "incidents.jsonl")
            if isinstance(incident, Incident) and self._newer(incident):
                self._incidents[incident.id] = incident

    # health -------------------------------------------------------------------------

    def check(self) -> None:
        """StoreDown when the folder cannot be written."""
        if not os.access(self.folder, os.W_OK | os.X_OK):
            log.error("incident store: %s is not writable", self.folder)
            raise StoreDown(UNWRITABLE)
        with self._lock:
            self._refresh()

    def health(self) -> Health:
        with self._lock:
            count = len(self._incidents)
        problems = tuple(p for f in self._files.values() for p in f.problems)
        return Health(self.kind, "jsonl", f"{count} incident(s) in {self.folder}", problems,
                      f"jsonl, {count} incident(s)")

    def close(self) -> None:
        for lines in self._files.values():
            lines.close()


def _with_id(record: dict, prefix: str) -> dict:
    """The record, with an id made from its content when the program that wrote it gave
    none: the same line always gets the same id, so copies of it stay single."""
    if record.get("id"):
        return record
    text = json.dumps(record, sort_keys=True, ensure_ascii=False).encode()
    return {**record, "id": f"{prefix}_{hashlib.sha256(text).hexdigest()[:16]}"}


def _load(kind: type, record: dict, where: str) -> object:
    try:
        return kind.from_record(record)
    except (TypeError, ValueError) as error:
        log.warning("incident store: %s: a record is unusable: %s", where, error)
        return None
