"""The incident log's operations, apart from chat: create, log, change, note, follow up.

Reactive threads call it; changes are made one at a time (a lock), each as one batch
of records (timeline events first, then the new snapshot) saved by the store before
the tracker is told. Roles, privacy and wording are the commands' business
(``commands.py``); the rules are the model's (``model.py``). A later alert webhook,
digest or web page uses this class the same way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from . import document
from .model import (
    ATTACHED,
    COMMENT,
    COORDINATOR,
    CREATED,
    FOLLOWUP,
    FOLLOWUP_STATUS,
    NOTE,
    SEVERITY,
    STATUS,
    Artifact,
    Batch,
    Event,
    FollowUp,
    Incident,
    RuleError,
    check_artifact,
    digest,
    find,
    followup_meta,
    followups,
    new_id,
    new_incident_id,
    ordered,
    parse_time,
    timestamp,
    transition,
)
from .recurrence import Count, count
from .settings import Settings
from .shifts import Shift
from .stores import Health, IncidentStore
from .tracker import Change, Tracker, TrackerError

log = logging.getLogger("univac.plugin.incidents")


@dataclass(frozen=True)
class Actor:
    """Who acts: the transport identity (kept in records) and the nick (shown)."""

    identity: str
    nick: str


@dataclass(frozen=True)
class Done:
    """A saved change: the incident after it, its number, and a lag of the tracker."""

    incident: Incident
    number: int
    lag: str = ""


class Incidents:
    """The operations (see the module docstring)."""

    def __init__(self, store: IncidentStore, settings: Settings, tracker: Tracker) -> None:
        self.store = store
        self.settings = settings
        self.shifts = settings.shifts
        self.tracker = tracker
        self._lock = threading.Lock()

    # reads --------------------------------------------------------------------------

    def find(self, ref: str) -> tuple[int, Incident]:
        return find(ref, self.store.incidents())

    def listed(self, service: str = "", statuses: tuple[str, ...] = ("open",)
               ) -> list[tuple[int, Incident]]:
        """Numbered incidents with one of ``statuses`` (of ``service``, if given)."""
        return [(n, i) for n, i in enumerate(ordered(self.store.incidents()), 1)
                if i.status in statuses and (not service or i.service.casefold() ==
                                             service.casefold())]

    def timeline(self, incident: Incident, count: int) -> list[Event]:
        return self.store.events(incident.id)[-count:] if count else []

    def document(self, incident: Incident) -> str:
        return document.link(incident, self.settings.document_url, self.store.health().active)

    def notes(self, now: datetime, prior: bool) -> tuple[Shift, list[Event]]:
        """The handover notes of the current shift, or of the one before."""
        shift = self.shifts.at(now)
        shift = self.shifts.before(shift) if prior else shift
        notes = [e for e in self.store.events(types=(NOTE,))
                 if shift.holds(parse_time(e.ts))]
        return shift, notes

    def open_followups(self, service: str = "") -> list[tuple[Incident, FollowUp]]:
        """Open follow-ups (of one service's incidents), the earliest due first."""
        incidents = {i.id: i for i in self.store.incidents()
                     if not service or i.service.casefold() == service.casefold()}
        found = [(incidents[f.incident_id], f)
                 for f in followups(self.store.events(types=(FOLLOWUP, FOLLOWUP_STATUS)))
                 if f.status == "open" and f.incident_id in incidents]
        return sorted(found, key=lambda pair: (pair[1].due, pair[0].id, pair[1].number))

    def recurrence(self, now: datetime, service: str = "") -> list[Count]:
        """Incidents per service and signature in the 7 and 30 days before ``now``."""
        return count(self.store.incidents(), now, self.settings.thresholds, service)

    def health(self) -> Health:
        return self.store.health()

    def report(self) -> str:
        """The store in use in one line (the plugin's ``report`` hook); the tracker too."""
        health = self.store.health()
        problems = f"; {len(health.problems)} problem(s), see !incident status" \
            if health.problems else ""
        tracker = f"; mirrored to {self.tracker.name}" if self.tracker.name != "none" else ""
        return f"store {health.summary}{problems}{tracker}"

    # writes -------------------------------------------------------------------------

    def create(self, title: str, actor: Actor, now: datetime, severity: str = "",
               service: str = "", env: str = "", meta: Mapping[str, Any] | None = None
               ) -> Done:
        """A new open incident, its ``created`` event, a handover line and its document;
        ``meta`` is kept on the incident (an alert's ``signature``)."""
        s = self.settings
        with self._lock:
            existing = self.store.incidents()
            stamp = timestamp(now)
            incident = Incident(
                new_incident_id(now, (i.id for i in existing)), title,
                service or s.default_service, env or s.default_env,
                severity or s.default_severity, "open", stamp, actor.identity, stamp, stamp,
                meta=dict(meta or {}))
            meta = {"severity": incident.severity, "service": incident.service,
                    "env": incident.env}
            created = self._event(incident.id, CREATED, title, actor, now, meta)
            note = self._event(None, NOTE, f"New incident {incident.id} ({incident.severity} "
                               f"{incident.service}): {title}", actor, now,
                               {"incident": incident.id, "shift": self._shift_of(now)})
            content = document.document(incident, actor.nick)
            artifact = self._artifact(incident, document.NAME, content, actor, now)
            self.store.write(Batch((incident,), (created, note), ((artifact, content),)))
            number = ordered([*existing, incident]).index(incident) + 1
            return self._mirrored(incident, created, number, now)

    def log(self, ref: str, text: str, actor: Actor, now: datetime) -> Done:
        return self._change(ref, actor, now, lambda i: (i, COMMENT, text, {}))

    def add_event(self, ref: str, kind: str, text: str, actor: Actor, now: datetime,
                  meta: Mapping[str, Any], event_id: str = "") -> Done:
        """A typed event on the timeline (an alert, a correlation); a given ``event_id``
        makes writing it again a no-op (the stores skip a known id)."""
        return self._change(ref, actor, now, lambda i: (i, kind, text, dict(meta)), event_id)

    def set_severity(self, ref: str, severity: str, actor: Actor, now: datetime) -> Done:
        def change(incident: Incident) -> tuple[Incident, str, str, dict[str, Any]]:
            if incident.severity == severity:
                raise RuleError(f"{incident.id} is {severity} already.")
            return (incident.changed(now, severity=severity), SEVERITY,
                    f"{incident.severity} -> {severity}",
                    {"from": incident.severity, "to": severity})

        return self._change(ref, actor, now, change)

    def set_coordinator(self, ref: str, who: str, actor: Actor, now: datetime) -> Done:
        def change(incident: Incident) -> tuple[Incident, str, str, dict[str, Any]]:
            if incident.coordinator == who:
                raise RuleError(f"{who} coordinates {incident.id} already.")
            return (incident.changed(now, coordinator=who), COORDINATOR, who,
                    {"from": incident.coordinator, "to": who})

        return self._change(ref, actor, now, change)

    def set_status(self, ref: str, action: str, actor: Actor, now: datetime) -> Done:
        """``resolve``, ``close`` or ``reopen``, as the rules allow."""
        def change(incident: Incident) -> tuple[Incident, str, str, dict[str, Any]]:
            status = transition(incident, action)
            stamps = {"resolved": {"resolved_at": timestamp(now)},
                      "closed": {"closed_at": timestamp(now)},
                      "open": {"resolved_at": None, "closed_at": None}}[status]
            return (incident.changed(now, status=status, **stamps), STATUS,
                    f"{incident.status} -> {status}", {"from": incident.status, "to": status})

        return self._change(ref, actor, now, change)

    def add_followup(self, ref: str, title: str, owner: str, priority: str, due: date,
                     actor: Actor, now: datetime) -> tuple[Done, FollowUp]:
        meta = followup_meta(title, owner, priority, due)
        done = self._change(ref, actor, now, lambda i: (i, FOLLOWUP, title, meta))
        mine = followups(self.store.events(done.incident.id, (FOLLOWUP, FOLLOWUP_STATUS)))
        return done, mine[-1]

    def set_followup(self, ref: str, number: int, status: str, actor: Actor,
                     now: datetime) -> tuple[Done, FollowUp]:
        def change(incident: Incident) -> tuple[Incident, str, str, dict[str, Any]]:
            mine = followups(self.store.events(incident.id, (FOLLOWUP, FOLLOWUP_STATUS)))
            if not 1 <= number <= len(mine):
                raise RuleError(f"{incident.id} has no follow-up {number} "
                                f"(it has {len(mine)}).")
            followup = mine[number - 1]
            if followup.status == status:
                raise RuleError(f"Follow-up {number} of {incident.id} is {status} already.")
            return (incident, FOLLOWUP_STATUS, f"follow-up {number}: {status}",
                    {"followup": followup.id, "status": status})

        done = self._change(ref, actor, now, change)
        mine = followups(self.store.events(done.incident.id, (FOLLOWUP, FOLLOWUP_STATUS)))
        return done, mine[number - 1]

    def attach(self, ref: str, make: Callable[[Incident], tuple[str, bytes]], actor: Actor,
               now: datetime) -> tuple[Done, Artifact]:
        """Add the artifact ``make(incident)`` names and fills (checked as every artifact
        is), with an ``artifact`` event on the timeline."""
        with self._lock:
            number, incident = self.find(ref)
            name, content = make(incident)
            artifact = self._artifact(incident, name, content, actor, now)
            event = self._event(incident.id, ATTACHED, name, actor, now,
                                {"artifact": artifact.id, "name": name})
            self.store.write(Batch(events=(event,), artifacts=((artifact, content),)))
            return self._mirrored(incident, event, number, now), artifact

    def note(self, text: str, actor: Actor, now: datetime) -> Shift:
        """Add a handover note to the current shift."""
        with self._lock:
            self.store.write(Batch(events=(self._event(
                None, NOTE, text, actor, now, {"shift": self._shift_of(now)}),)))
        return self.shifts.at(now)

    # the parts of a change ----------------------------------------------------------

    def _change(self, ref: str, actor: Actor, now: datetime, change: Any,
                event_id: str = "") -> Done:
        """Apply ``change(incident) -> (next snapshot, event type, message, meta)``."""
        with self._lock:
            number, incident = self.find(ref)
            after, kind, message, meta = change(incident)
            event = self._event(incident.id, kind, message, actor, now, meta, event_id)
            snapshots = (after,) if after is not incident else ()
            self.store.write(Batch(snapshots, (event,)))
            return self._mirrored(after, event, number, now)

    def _mirrored(self, incident: Incident, event: Event, number: int, now: datetime) -> Done:
        """Tell the tracker; keep the references it gives back on the incident."""
        try:
            refs = self.tracker.mirror(Change(incident, event, self.document(incident)))
        except TrackerError as error:
            log.warning("incidents: %s did not take %s of %s: %s", self.tracker.name,
                        event.type, incident.id, error)
            return Done(incident, number, f"not mirrored to {self.tracker.name}: {error}")
        if refs and any(incident.refs.get(k) != v for k, v in refs.items()):
            incident = incident.changed(now, refs={**incident.refs, **refs})
            self.store.write(Batch((incident,)))
        return Done(incident, number)

    def _event(self, incident_id: str | None, kind: str, message: str, actor: Actor,
               now: datetime, meta: dict[str, Any], event_id: str = "") -> Event:
        return Event(event_id or new_id("ev"), incident_id, timestamp(now), kind, message,
                     actor.identity, {**meta, "nick": actor.nick})

    def _artifact(self, incident: Incident, name: str, content: bytes, actor: Actor,
                  now: datetime) -> Artifact:
        kind = check_artifact(name, content)
        return Artifact(new_id("art"), incident.id, name, kind, len(content), digest(content),
                        f"{incident.id}/{name}", timestamp(now), actor.identity)

    def _shift_of(self, now: datetime) -> str:
        return self.shifts.at(now).start.isoformat()
