"""The weekly digest: what one week brought to the incident log. Pure; any thread.

The public functions, for the weekly poller (``weekly.py``) and for pages that show a
digest (``/incidents/weekly/<YYYY-WW>``)::

    from univac.plugins.incidents import digest

    week = digest.Week.parse("2026-W09")        # or Week.of(moment), week.previous()
    made = digest.build(store, week, settings.thresholds)
    made.to_json()        # the text of YYYY-WW.json (a str)
    made.to_markdown()    # the text of YYYY-WW.md
    digest.write(folder, made)                  # both files, atomically
    digest.load(folder, week)                   # a Digest read back from YYYY-WW.json

``store`` is anything with the incident store's two reads, ``incidents()`` and
``events(types=...)`` (``View``): an open store, or ``offline.read_only(...)``.
``folder`` is where the files are, ``settings.digest_folder(ctx.data_dir)``.
``load`` raises ``FileNotFoundError`` when that week has no digest and ``ValueError``
when the file is no digest.

A week is an ISO week in UTC: from Monday 00:00 UTC to the next Monday 00:00 UTC,
named ``YYYY-Www`` by its ISO year and number. The digest reads the incident log as it
was at the week's end (``history.py``), so the same records give the same digest
whenever it is made, byte for byte: no clock is read, every list has a fixed order, the
JSON keys are sorted, and there are no floats (durations are whole seconds).
docs/incidents.md ("Weekly digest") describes both files field by field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from . import digest_markdown, history
from .model import (
    FOLLOWUP,
    FOLLOWUP_STATUS,
    SEVERITY,
    STATUS,
    Event,
    Incident,
    followups,
    parse_time,
    timestamp,
)
from .recurrence import Count, Thresholds, count, signature_of
from .render import span
from .stores.lines import write_file

FORMAT = 1
WEEK = re.compile(r"(\d{4})-W(\d{2})")


class View(Protocol):
    """The reads a digest needs (an incident store has them)."""

    def incidents(self) -> list[Incident]: ...

    def events(self, incident_id: str | None = None,
               types: Collection[str] = ()) -> list[Event]: ...


@dataclass(frozen=True, order=True)
class Week:
    """An ISO week: ``2026-W09`` runs from Monday 2026-02-23 00:00 UTC for seven days."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Week:
        """``2026-W09``; ValueError for anything else, or a week the year does not have."""
        found = WEEK.fullmatch(text.strip())
        if not found:
            raise ValueError(f"{text!r} is no ISO week (2026-W09)")
        week = cls(int(found.group(1)), int(found.group(2)))
        try:
            date.fromisocalendar(week.year, week.number, 1)
        except ValueError:
            raise ValueError(f"{week.year} has no week {week.number}") from None
        return week

    @classmethod
    def of(cls, moment: datetime) -> Week:
        """The week ``moment`` falls in (read in UTC)."""
        iso = moment.astimezone(UTC).isocalendar()
        return cls(iso.year, iso.week)

    @property
    def start(self) -> datetime:
        monday = date.fromisocalendar(self.year, self.number, 1)
        return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 UTC (not in the week)."""
        return self.start + timedelta(days=7)

    def previous(self) -> Week:
        return Week.of(self.start - timedelta(days=1))

    def __str__(self) -> str:
        return f"{self.year}-W{self.number:02d}"


@dataclass(frozen=True)
class Entry:
    """An incident as the digest shows it: status and severity as at the week's end."""

    id: str
    title: str
    service: str
    env: str
    severity: str
    status: str
    started_at: str
    coordinator: str
    signature: str | None
    resolved_at: str | None = None
    """In ``resolved``: when it was (last) resolved in the week."""
    time_to_resolve_s: int | None = None
    """In ``resolved``: from ``started_at`` to ``resolved_at``, whole seconds."""


@dataclass(frozen=True)
class Overdue:
    """A follow-up still open at the week's end, due on or before its Sunday."""

    incident: str
    service: str
    number: int
    title: str
    owner: str
    priority: str
    due: str
    days_overdue: int
    """Days from the due date to the week's end (1: due on the Sunday)."""


@dataclass(frozen=True)
class Digest:
    """One week's digest (see the module docstring)."""

    week: str
    start: str
    end: str
    new: tuple[Entry, ...]
    resolved: tuple[Entry, ...]
    open: tuple[Entry, ...]
    mean_time_to_resolve_s: int | None
    thresholds: Thresholds
    recurrence: tuple[Count, ...]
    overdue_followups: tuple[Overdue, ...]

    @property
    def counts(self) -> dict[str, int]:
        """How many of each: what the chat summary says."""
        flagged = [c for c in self.recurrence if c.flagged]
        return {"new": len(self.new), "resolved": len(self.resolved), "open": len(self.open),
                "overdue_followups": len(self.overdue_followups),
                "recurring_services": sum(c.kind == "service" for c in flagged),
                "recurring_signatures": sum(c.kind == "signature" for c in flagged)}

    def to_record(self) -> dict[str, Any]:
        """The JSON object of the ``.json`` file."""
        record = asdict(self)
        record["recurrence"] = {"thresholds": record.pop("thresholds"),
                                "counts": record["recurrence"]}
        return {"format": FORMAT, "counts": self.counts, **record}

    def to_json(self) -> str:
        """The ``.json`` file: sorted keys, two-space indent, UTF-8, a final newline."""
        return json.dumps(self.to_record(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    def to_markdown(self) -> str:
        """The ``.md`` file."""
        return digest_markdown.render(self)

    def summary(self, link: str) -> str:
        """One line for chat, counts only (no titles, no services): where to read more."""
        c = self.counts
        mttr = f", mean time to resolve {span(self.mean_time_to_resolve_s)}" \
            if self.mean_time_to_resolve_s is not None else ""
        return (f"Incident digest {self.week}: {c['new']} new, {c['resolved']} resolved"
                f"{mttr}, {c['open']} open at the week's end, {c['overdue_followups']} "
                f"overdue follow-up(s), {c['recurring_services']} recurring service(s), "
                f"{c['recurring_signatures']} recurring signature(s): {link}")

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Digest:
        """A digest from its JSON object; ValueError when it is no digest."""
        try:
            if record["format"] != FORMAT:
                raise ValueError(f"digest format {record['format']!r}, expected {FORMAT}")
            recurrence = record["recurrence"]
            return cls(
                str(record["week"]), str(record["start"]), str(record["end"]),
                *(tuple(Entry(**e) for e in record[k]) for k in ("new", "resolved", "open")),
                record["mean_time_to_resolve_s"], Thresholds(**recurrence["thresholds"]),
                tuple(Count(**c) for c in recurrence["counts"]),
                tuple(Overdue(**o) for o in record["overdue_followups"]))
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a digest: {error!r}") from None


def build(view: View, week: Week, thresholds: Thresholds | None = None) -> Digest:
    """The digest of ``week`` from the records ``view`` holds (see the module docstring)."""
    thresholds = thresholds or Thresholds()
    start, end = week.start, week.end
    incidents = sorted((i for i in view.incidents() if _time(i.started_at) is not None),
                       key=lambda i: (_started(i), i.id))
    events = [e for e in view.events(types=(STATUS, SEVERITY, FOLLOWUP, FOLLOWUP_STATUS))
              if _time(e.ts) is not None]
    timelines = history.by_incident(events)
    known = [i for i in incidents if _started(i) < end]
    resolved = _resolved(known, timelines, start, end)
    times = [e.time_to_resolve_s or 0 for e in resolved]
    return Digest(
        str(week), _stamp(start), _stamp(end),
        tuple(_entry(i, timelines, end) for i in known if start <= _started(i)),
        resolved,
        tuple(_entry(i, timelines, end) for i in known
              if history.status_at(i, timelines.get(i.id, []), end) == "open"),
        (sum(times) + len(times) // 2) // len(times) if times else None,
        thresholds, tuple(count(incidents, end, thresholds)),
        _overdue(incidents, events, end))


def write(folder: Path, made: Digest) -> tuple[Path, Path]:
    """Write ``<week>.json`` and ``<week>.md`` in ``folder``, each atomically (a temporary
    file, fsynced, renamed); the two paths."""
    paths = folder / f"{made.week}.json", folder / f"{made.week}.md"
    write_file(paths[0], made.to_json().encode())
    write_file(paths[1], made.to_markdown().encode())
    return paths


def load(folder: Path, week: Week | str) -> Digest:
    """The digest of ``week`` written in ``folder`` (see the module docstring)."""
    text = (folder / f"{Week.parse(str(week))}.json").read_text(encoding="utf-8")
    try:
        record = json.loads(text)
    except ValueError as error:
        raise ValueError(f"not a digest: {error}") from None
    if not isinstance(record, dict):
        raise ValueError("not a digest: no JSON object")
    return Digest.from_record(record)


# the parts ---------------------------------------------------------------------------


def _entry(incident: Incident, timelines: dict[str, list[Event]], end: datetime,
           resolved: datetime | None = None) -> Entry:
    timeline = timelines.get(incident.id, [])
    return Entry(
        incident.id, incident.title, incident.service, incident.env,
        history.severity_at(incident, timeline, end), history.status_at(incident, timeline, end),
        incident.started_at, incident.coordinator, signature_of(incident),
        timestamp(resolved) if resolved else None,
        max(0, int((resolved - _started(incident)).total_seconds())) if resolved else None)


def _resolved(incidents: Iterable[Incident], timelines: dict[str, list[Event]],
              start: datetime, end: datetime) -> tuple[Entry, ...]:
    found = []
    for incident in incidents:
        moment = history.resolved_between(incident, timelines.get(incident.id, []), start, end)
        if moment is not None:
            found.append(_entry(incident, timelines, end, moment))
    return tuple(sorted(found, key=lambda e: (e.resolved_at or "", e.id)))


def _overdue(incidents: list[Incident], events: list[Event], end: datetime
             ) -> tuple[Overdue, ...]:
    """Follow-ups open at ``end`` and due before its day (the week's Sunday or earlier)."""
    services = {i.id: i.service for i in incidents}
    before = [e for e in events if e.type in (FOLLOWUP, FOLLOWUP_STATUS) and
              parse_time(e.ts) < end]  # in the store's order: numbered as chat numbers them
    day = end.date()
    found = [Overdue(f.incident_id, services[f.incident_id], f.number, f.title, f.owner,
                     f.priority, f.due.isoformat(), (day - f.due).days)
             for f in followups(before)
             if f.status == "open" and f.due < day and f.incident_id in services]
    return tuple(sorted(found, key=lambda o: (o.due, o.incident, o.number)))


def _started(incident: Incident) -> datetime:
    return parse_time(incident.started_at)


def _time(text: str) -> datetime | None:
    """A record's time, or None when another tool wrote something unreadable."""
    try:
        return parse_time(text)
    except (TypeError, ValueError):
        return None


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
