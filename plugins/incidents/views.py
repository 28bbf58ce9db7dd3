"""The incident pages: what each one shows. Pure reads; the HTTP server's worker threads.

- ``index``: ``/incidents``, the open incidents and the recently resolved or closed
  ones (changed within ``page_recent_s``), filtered by ``?service=`` and
  ``?severity=``;
- ``incident``: ``/incidents/<id>``, one incident: its facts, whole timeline,
  follow-ups and artifacts; ``/incidents/<id>/<artifact>`` shows one artifact's text;
- ``weekly``: ``/incidents/weekly`` (the weeks written, newest first) and
  ``/incidents/weekly/<YYYY-Www>``, that week's digest as the poller wrote it
  (``digest.py``); a reader who is no viewer sees its counts only.

``<id>`` is what chat takes: the full id, its last part, its number or a tracker's
reference. A viewer sees the details; a reader who is no viewer sees that the incidents
exist and nothing more (``pages.py``). Times are shown in the shift zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import digest, document
from .model import (
    FOLLOWUP,
    FOLLOWUP_STATUS,
    SEVERITIES,
    Artifact,
    Incident,
    RuleError,
    followups,
    ordered,
    parse_time,
    severity_of,
)
from .pages import NotFound, Page, Visit
from .privacy import viewers_only
from .render import age, span, who

MAX_EVENTS = 2000
SERVICE_CHARS = 100
MAX_WEEKS = 260


def index(visit: Visit) -> Page:
    """``/incidents``: open and recent incidents, filtered by service and severity."""
    if visit.parts:
        raise NotFound("No such page.")
    service = visit.query("service")[:SERVICE_CHARS]
    wanted = visit.query("severity")
    severity = severity_of(wanted) if wanted else ""
    numbered = list(enumerate(ordered(visit.incidents.store.incidents()), 1))
    chosen = [(n, i) for n, i in numbered
              if (not service or i.service.casefold() == service.casefold())
              and (not severity or i.severity == severity)]
    since = visit.now - timedelta(seconds=visit.settings.page_recent_s)
    recent = sorted(((n, i) for n, i in chosen if i.status != "open"
                     and parse_time(i.updated_at) >= since),
                    key=lambda pair: pair[1].updated_at, reverse=True)
    data = {
        "title": "Incidents", "details": visit.details, "service": service,
        "severity": severity, "severities": SEVERITIES,
        "services": sorted({i.service for _, i in numbered}) if visit.details else [],
        "open": [_row(n, i, visit) for n, i in chosen if i.status == "open"],
        "recent": [_row(n, i, visit) for n, i in recent],
        "recent_days": _days(visit.settings.page_recent_s),
        "hidden": viewers_only(visit.settings),
    }
    return Page("index.html", data)


def incident(visit: Visit) -> Page:
    """``/incidents/<id>`` (one incident) and ``/incidents/<id>/<artifact>``."""
    parts = visit.parts
    if not 1 <= len(parts) <= 2 or not all(parts):
        raise NotFound("No such page.")
    number, found = _find(visit, parts[0])
    if not visit.details:
        data = {"title": found.id, "text": f"{found.id} is an incident; "
                                           f"{viewers_only(visit.settings)}."}
        return Page("message.html", data)
    if len(parts) == 2:
        return _artifact(visit, found, parts[1])
    store, zone = visit.incidents.store, visit.incidents.shifts.zone
    events, artifacts = store.events(found.id), store.artifacts(found.id)
    today = visit.incidents.shifts.today(visit.now)
    data = {
        "title": f"{found.id}: {found.title}", "incident": found, "number": number,
        "age": age(found.started_at, visit.now), "when": lambda ts: _when(ts, visit),
        "zone": str(zone), "document": _document(visit, found, artifacts),
        "events": [{"ts": e.ts, "who": who(e), "actor": e.actor, "type": e.type,
                    "message": e.message} for e in events[-MAX_EVENTS:]],
        "earlier": max(0, len(events) - MAX_EVENTS),
        "followups": [{"f": f, "overdue": f.overdue(today)} for f in followups(
            e for e in events if e.type in (FOLLOWUP, FOLLOWUP_STATUS))],
        "artifacts": [{"a": a, "href": f"{visit.home}/{quote(found.id)}/{quote(a.name)}"}
                      for a in artifacts],
    }
    return Page("incident.html", data)


def weekly(visit: Visit, folder: Path) -> Page:
    """``/incidents/weekly`` (the weeks written) and ``/incidents/weekly/<week>``."""
    parts = visit.parts[1:]
    if not parts:
        weeks = sorted((w for w in (_week(p.stem) for p in folder.glob("*-W*.json")) if w),
                       reverse=True)[:MAX_WEEKS]
        return Page("weeks.html", {"title": "Weekly digests", "weeks": [str(w) for w in weeks],
                                   "schedule": visit.settings.digest_schedule})
    week = _week(parts[0]) if len(parts) == 1 else None
    if week is None:
        raise NotFound("No such page: a week is written like 2026-W09.")
    try:
        made = digest.load(folder, week)
    except FileNotFoundError:
        raise NotFound(f"No digest for {week}: each is written after its week ends "
                       f"({visit.settings.digest_schedule}).") from None
    return Page("weekly.html", {"title": f"Incident digest {week}", "d": made,
                                "counts": made.counts, "details": visit.details,
                                "hidden": viewers_only(visit.settings),
                                "mttr": span(made.mean_time_to_resolve_s)
                                if made.mean_time_to_resolve_s is not None else ""})


def _week(text: str) -> digest.Week | None:
    """``2026-W09``, or ``2026-09`` as people write it too; None for anything else."""
    if len(text) == 7 and text[4] == "-":
        text = f"{text[:5]}W{text[5:]}"
    try:
        return digest.Week.parse(text)
    except ValueError:
        return None


def _artifact(visit: Visit, found: Incident, name: str) -> Page:
    store = visit.incidents.store
    artifact = next((a for a in store.artifacts(found.id) if a.name == name), None)
    if artifact is None:
        raise NotFound(f"{found.id} has no artifact '{name[:100]}'.")
    text = store.content(artifact).decode("utf-8", errors="replace")
    return Page("artifact.html", {"title": f"{found.id}/{artifact.name}", "incident": found,
                                  "artifact": artifact, "text": text})


def _find(visit: Visit, ref: str) -> tuple[int, Incident]:
    try:
        return visit.incidents.find(ref[:200])
    except RuleError as error:
        raise NotFound(str(error)) from None


def _row(number: int, incident: Incident, visit: Visit) -> dict[str, Any]:
    return {"number": number, "incident": incident, "href": f"{visit.home}/{quote(incident.id)}",
            "age": age(incident.started_at, visit.now),
            "started": _when(incident.started_at, visit),
            "changed": _when(incident.updated_at, visit)}


def _when(stamp: str | None, visit: Visit) -> str:
    """``2026-03-02 10:14 CET`` in the shift zone; empty for no time."""
    if not stamp:
        return ""
    moment: datetime = parse_time(stamp).astimezone(visit.incidents.shifts.zone)
    return f"{moment:%Y-%m-%d %H:%M %Z}"


def _document(visit: Visit, found: Incident, artifacts: list[Artifact]) -> dict[str, str]:
    """Where the working document is: ``document_url``'s page (linked when it is http or
    https), else the artifact's page (when the artifact is there)."""
    link = visit.incidents.document(found)
    if visit.settings.document_url:
        return {"href": link if link.startswith(("https://", "http://")) else "",
                "text": link}
    if any(a.name == document.NAME for a in artifacts):
        return {"href": f"{visit.home}/{quote(found.id)}/{document.NAME}",
                "text": document.NAME}
    return {"href": "", "text": link}


def _days(seconds: int) -> str:
    days = seconds / 86400
    return f"{days:g} day{'s' if days != 1 else ''}"
