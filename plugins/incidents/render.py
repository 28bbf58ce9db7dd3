"""How incidents read in chat: one line each, bounded replies. Pure functions; any thread.

Every line is made one safe line (``univac.kit.text.one_line``): titles and notes come
from users and other tools. A reply of several lines is one message with newlines, so
a transport that caps replies (IRC ``max_lines_per_reply``, XMPP's) holds the rest
back for its ``more`` command; and no reply has more than ``max_lines`` lines: the rest
is counted on a last line.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from univac.kit.text import one_line

from .model import Event, FollowUp, Incident, parse_time

TITLE_CHARS = 200


def age(since: str, now: datetime) -> str:
    """``2h 13m``, ``3d 4h``, ``12m``, ``40s`` from a record's timestamp to ``now``."""
    return span(int((now - parse_time(since)).total_seconds()))


def span(seconds: int) -> str:
    """``3d 4h``, ``2h 13m``, ``12m``, ``40s`` (a negative span is ``0s``)."""
    days, rest = divmod(max(0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{secs}s"


def incident_line(number: int, incident: Incident, now: datetime) -> str:
    """``#3 inc_... P1 gateway open, coordinator alice, 2h 13m: Title``."""
    coordinator = f"coordinator {incident.coordinator}" if incident.coordinator else \
        "no coordinator"
    return one_line(f"#{number} {incident.id} {incident.severity} {incident.service} "
                    f"{incident.status}, {coordinator}, {age(incident.started_at, now)}: "
                    f"{one_line(incident.title, TITLE_CHARS)}", 400)


def who(event: Event) -> str:
    """The nick that made an event (``meta.nick``), else its identity."""
    return str(event.meta.get("nick") or event.actor)


def event_line(event: Event, zone: ZoneInfo, typed: bool = True) -> str:
    """``03-02 08:14 alice comment: text`` (the time in the shift zone; without the
    event's type unless ``typed``)."""
    when = parse_time(event.ts).astimezone(zone)
    kind = f" {event.type}" if typed else ""
    return one_line(f"{when:%m-%d %H:%M} {who(event)}{kind}: {event.message}", 400)


def followup_line(incident: Incident, followup: FollowUp, today: date) -> str:
    """``inc_... follow-up 2 (P2, alice, due 2026-03-10, overdue): title``."""
    late = ", overdue" if followup.overdue(today) else ""
    state = "" if followup.status == "open" else f", {followup.status}"
    return one_line(f"{incident.id} follow-up {followup.number} ({followup.priority}, "
                    f"{followup.owner}, due {followup.due.isoformat()}{late}{state}): "
                    f"{followup.title}", 400)


def bounded(lines: list[str], max_lines: int, hint: str) -> str:
    """At most ``max_lines`` lines, the last one saying how many were left out."""
    if len(lines) <= max_lines:
        return "\n".join(lines)
    kept = lines[: max_lines - 1]
    return "\n".join([*kept, f"... and {len(lines) - len(kept)} more; {hint}"])
