"""A postmortem draft from an incident's timeline, kept as one of its artifacts. Pure.

``!incident postmortem <id>`` (writers) makes a markdown draft, ``postmortem.md`` (then
``postmortem-2.md``, ... : a draft is never overwritten), and keeps it with the
incident's other artifacts (``Incidents.attach``): in the JSON lines folder as
``<incident_id>/postmortem.md``, in PostgreSQL as a row of ``incident_artifacts``.
It holds the facts and the headings to fill in: a summary, the impact window (from
``started_at`` to ``resolved_at``), the timeline (every event, in UTC), the follow-ups
and open questions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from univac.kit.text import one_line

from .model import Event, Incident, followups, parse_time, timestamp
from .recurrence import signature_of
from .render import span, who

NAME = "postmortem"
BOXES = {"open": "[ ]", "done": "[x]"}


def name_for(taken: Iterable[str]) -> str:
    """``postmortem.md``, or the first of ``postmortem-2.md``, ... not in ``taken``."""
    used = set(taken)
    number, name = 1, f"{NAME}.md"
    while name in used:
        number += 1
        name = f"{NAME}-{number}.md"
    return name


def maker(store: Any, drafted_by: str, now: datetime
          ) -> Callable[[Incident], tuple[str, bytes]]:
    """What ``Incidents.attach`` calls: the next free name and the draft, from ``store``."""
    def make(incident: Incident) -> tuple[str, bytes]:
        taken = (a.name for a in store.artifacts(incident.id))
        return name_for(taken), draft(incident, store.events(incident.id), drafted_by, now)

    return make


def where(store_kind: str) -> str:
    """Where artifacts are kept, in words."""
    return "in the JSON lines folder" if store_kind == "jsonl" else "in the incident store"


def draft(incident: Incident, events: list[Event], drafted_by: str, now: datetime) -> bytes:
    """The draft's markdown."""
    lines = [
        f"# Postmortem (draft): {_text(incident.title)}", "",
        f"- Incident: {incident.id}",
        f"- Service: {_text(incident.service)} ({_text(incident.env)})",
        f"- Severity: {incident.severity}",
        f"- Status: {incident.status}",
        f"- Coordinator: {_text(incident.coordinator) or '(none)'}",
        *([f"- Alert signature: {_text(signature_of(incident) or '')}"]
          if signature_of(incident) else []),
        f"- Drafted: {_when(timestamp(now))} by {_text(drafted_by)}", "",
        "## Summary", "",
        f"{_text(incident.title)}.", "",
        "(What happened, who was affected, how it was found and how it was fixed, in a "
        "few sentences.)", "",
        "## Impact window", "", *_window(incident), "",
        "## Timeline", "", "All times UTC, from the incident log.", "",
        *[_event(e) for e in events], "",
        "## Follow-ups", "", *_followups(events), "",
        "## Open questions", "", "- ", "",
    ]
    return "\n".join(lines).encode()


def _window(incident: Incident) -> list[str]:
    started = parse_time(incident.started_at)
    if not incident.resolved_at:
        return [f"- Started: {_when(incident.started_at)}", "- Resolved: not yet",
                "- Duration: ongoing"]
    seconds = int((parse_time(incident.resolved_at) - started).total_seconds())
    return [f"- Started: {_when(incident.started_at)}",
            f"- Resolved: {_when(incident.resolved_at)}", f"- Duration: {span(seconds)}"]


def _event(event: Event) -> str:
    when = f"{parse_time(event.ts).astimezone(UTC):%Y-%m-%d %H:%M}"
    return f"- {when} {_text(who(event))} {event.type}: {_text(event.message)}"


def _followups(events: list[Event]) -> list[str]:
    found = followups(events)
    if not found:
        return ["None yet."]
    return [f"- {BOXES.get(f.status, '[ ]')} {f.number}. {_text(f.title)} ({f.priority}, owner "
            f"{_text(f.owner)}, due {f.due.isoformat()}"
            f"{'' if f.status == 'open' else ', ' + f.status})" for f in found]


def _when(stamp: str) -> str:
    return f"{parse_time(stamp).astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _text(text: str) -> str:
    return one_line(text, 500)
