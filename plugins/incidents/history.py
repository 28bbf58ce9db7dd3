"""Incidents as they were at a moment, read back from their timelines. Pure; any thread.

A snapshot holds an incident's newest state only. The weekly digest speaks of a week
that has ended, so it asks what the status and the severity were when the week ended,
and when an incident was resolved; the answers come from the typed timeline events
(``status`` and ``severity``, whose meta holds ``from`` and ``to``), which never
change. Records another tool wrote without such events are read from the snapshot:
``resolved_at`` and ``closed_at`` say when it left ``open`` (``updated_at`` when a
status has no time stamp), and its severity is the snapshot's.

Times compare as aware datetimes (``model.parse_time``); an event exactly at the
moment asked about counts as after it (windows are half-open, ``[start, end)``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from .model import SEVERITY, STATUS, Event, Incident, parse_time


def by_incident(events: Iterable[Event]) -> dict[str, list[Event]]:
    """The ``status`` and ``severity`` events of each incident, oldest first."""
    found: dict[str, list[Event]] = {}
    for event in events:
        if event.incident_id and event.type in (STATUS, SEVERITY):
            found.setdefault(event.incident_id, []).append(event)
    for timeline in found.values():
        timeline.sort(key=lambda e: (parse_time(e.ts), e.id))
    return found


def status_at(incident: Incident, timeline: list[Event], moment: datetime) -> str:
    """``open``, ``resolved`` or ``closed`` just before ``moment``."""
    changes = [e for e in timeline if e.type == STATUS]
    if changes:
        before = [e for e in changes if parse_time(e.ts) < moment]
        return str(before[-1].meta.get("to", incident.status)) if before else "open"
    left = incident.closed_at or incident.resolved_at or (
        incident.updated_at if incident.status != "open" else None)
    return incident.status if left and parse_time(left) < moment else "open"


def severity_at(incident: Incident, timeline: list[Event], moment: datetime) -> str:
    """The severity just before ``moment``."""
    changes = [e for e in timeline if e.type == SEVERITY]
    before = [e for e in changes if parse_time(e.ts) < moment]
    if before:
        return str(before[-1].meta.get("to", incident.severity))
    if changes:
        return str(changes[0].meta.get("from", incident.severity))
    return incident.severity


def resolved_between(incident: Incident, timeline: list[Event], start: datetime,
                     end: datetime) -> datetime | None:
    """When the incident was last resolved in ``[start, end)``, or None."""
    changes = [e for e in timeline if e.type == STATUS]
    if changes:
        found = [parse_time(e.ts) for e in changes
                 if e.meta.get("to") == "resolved" and start <= parse_time(e.ts) < end]
        return found[-1] if found else None
    stamp = incident.resolved_at or incident.closed_at
    moment = parse_time(stamp) if stamp else None
    return moment if moment is not None and start <= moment < end else None
