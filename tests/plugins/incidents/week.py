"""A known incident log around the week 2026-W09 (Monday 2026-02-23 to Sunday
2026-03-01), written with fixed ids so that its digest can be compared with golden files.

- ``a``: api P1 HighErrorRate/api/prod, started Tue 10:00, resolved Tue 12:13 (2h 13m);
- ``b``: api P2 HighErrorRate/api/prod, started Thu, resolved only on 2026-03-03 (after
  the week: open in the digest, although its snapshot says resolved);
- ``c``: api P3, started Fri, raised to P1 after the week (P3 in the digest);
- ``d``: db P1, started 2026-02-10, open, with four follow-ups: due 02-20 (open:
  overdue 10 days), due 02-28 (done on 02-27), due 03-01, a Sunday (open: 1 day), due 03-02;
- ``e``: web, started the Monday after the week (not in it);
- ``f``: db, January (out of every window);
- ``g``: api, 2026-02-03, resolved the same day (in the 30 days of api);
- ``h``: legacy, another tool's record with no status events, resolved_at Wed (1h 30m).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from univac.plugins.incidents.model import (
    FOLLOWUP,
    FOLLOWUP_STATUS,
    SEVERITY,
    STATUS,
    Batch,
    Event,
    Incident,
    followup_meta,
    parse_time,
)
from univac.plugins.incidents.stores.jsonl import JsonlStore


def incident(key: str, service: str, severity: str, started: str, title: str, **extra) -> Incident:
    stamp = f"{started}.000000Z"
    return Incident(f"inc_{started[:10].replace('-', '')}_0000_{key}{key}0000", title, service,
                    "prod", severity, extra.pop("status", "open"), stamp, "test:alice", stamp,
                    stamp, **extra)


def event(number: int, incident_id: str, ts: str, kind: str, message: str, **meta) -> Event:
    return Event(f"ev_{number:016d}", incident_id, f"{ts}.000000Z", kind, message, "test:alice",
                 {**meta, "nick": "alice"})


def status(number: int, inc: Incident, ts: str, before: str, after: str) -> Event:
    return event(number, inc.id, ts, STATUS, f"{before} -> {after}",
                 **{"from": before, "to": after})


def followup(number: int, inc: Incident, ts: str, title: str, due: date) -> Event:
    return event(number, inc.id, ts, FOLLOWUP, title, **followup_meta(title, "bob", "P2", due))


def records() -> tuple[list[Incident], list[Event]]:
    signature = {"signature": "HighErrorRate/api/prod"}
    a = incident("a", "api", "P1", "2026-02-24T10:00:00", "API 5xx | spike", meta=signature,
                 coordinator="alice", status="resolved", resolved_at="2026-02-24T12:13:00.000000Z")
    b = incident("b", "api", "P2", "2026-02-26T09:00:00", "API 5xx again", meta=signature,
                 status="resolved", resolved_at="2026-03-03T08:00:00.000000Z")
    c = incident("c", "api", "P1", "2026-02-27T15:30:00", "Slow search")
    d = incident("d", "db", "P1", "2026-02-10T07:00:00", "Replica lag")
    e = incident("e", "web", "P2", "2026-03-02T01:00:00", "CDN errors")
    f = incident("f", "db", "P2", "2026-01-05T10:00:00", "Disk full", status="closed",
                 resolved_at="2026-01-05T11:00:00.000000Z", closed_at="2026-01-06T10:00:00.000000Z")
    g = incident("g", "api", "P3", "2026-02-03T10:00:00", "Cert expiry", status="resolved",
                 resolved_at="2026-02-03T11:00:00.000000Z")
    h = incident("h", "legacy", "P2", "2026-02-25T08:00:00", "Batch late", status="resolved",
                 resolved_at="2026-02-25T09:30:00.000000Z")
    follow = [followup(10, d, "2026-02-11T09:00:00", "Alert on lag", date(2026, 2, 20)),
              followup(11, d, "2026-02-11T09:01:00", "Runbook", date(2026, 2, 28)),
              followup(12, d, "2026-02-11T09:02:00", "Bigger disks", date(2026, 3, 1)),
              followup(13, d, "2026-02-11T09:03:00", "Review", date(2026, 3, 2))]
    events = [
        status(1, a, "2026-02-24T12:13:00", "open", "resolved"),
        status(2, b, "2026-03-03T08:00:00", "open", "resolved"),
        event(3, c.id, "2026-03-02T09:00:00", SEVERITY, "P3 -> P1", **{"from": "P3", "to": "P1"}),
        *follow,
        event(14, d.id, "2026-02-27T10:00:00", FOLLOWUP_STATUS, "follow-up 2: done",
              followup=follow[1].id, status="done"),
        status(15, f, "2026-01-05T11:00:00", "open", "resolved"),
        status(16, f, "2026-01-06T10:00:00", "resolved", "closed"),
        status(17, g, "2026-02-03T11:00:00", "open", "resolved"),
    ]
    return [a, b, c, d, e, f, g, h], events


def write_store(folder: Path) -> JsonlStore:
    """A jsonl store in ``folder`` holding the records above."""
    incidents, events = records()
    store = JsonlStore(folder)
    store.write(Batch(tuple(incidents), tuple(events)))
    return store


def at(text: str) -> datetime:
    return parse_time(text)
