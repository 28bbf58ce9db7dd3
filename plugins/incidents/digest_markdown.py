"""The weekly digest as markdown (``YYYY-WW.md``). Pure; any thread.

The same facts as the JSON file, for people: the counts in a table, then the new,
resolved and open incidents, recurrence and overdue follow-ups, each section saying
``None.`` when it is empty. Titles and names come from users and alerts: each is made
one line, and ``|`` is escaped in tables. Times are UTC, to the minute.
"""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING

from univac.kit.text import one_line

from .model import parse_time
from .render import span

if TYPE_CHECKING:
    from .digest import Digest, Entry

TITLE_CHARS = 200


def render(made: Digest) -> str:
    """The whole file, ending in a newline."""
    c = made.counts
    mttr = span(made.mean_time_to_resolve_s) if made.mean_time_to_resolve_s is not None \
        else "none resolved"
    lines = [
        f"# Incident digest {made.week}", "",
        f"From {_when(made.start)} to {_when(made.end)}, as the incident log read at the "
        "end of the week.", "",
        "| | |", "|---|---|",
        f"| New incidents | {c['new']} |", f"| Resolved | {c['resolved']} |",
        f"| Mean time to resolve | {mttr} |",
        f"| Open at the end of the week | {c['open']} |",
        f"| Overdue follow-ups | {c['overdue_followups']} |",
        f"| Recurring services | {c['recurring_services']} |",
        f"| Recurring signatures | {c['recurring_signatures']} |", "",
        "## New", "", *_entries(made.new, "started"), "",
        "## Resolved", "", *_entries(made.resolved, "resolved"), "",
        "## Open at the end of the week", "", *_entries(made.open, "started"), "",
        "## Recurrence", "", *_recurrence(made), "",
        "## Overdue follow-ups", "", *_overdue(made), "",
    ]
    return "\n".join(lines)


def _entries(entries: tuple[Entry, ...], when: str) -> list[str]:
    if not entries:
        return ["None."]
    lines = []
    for e in entries:
        at = f"resolved {_when(e.resolved_at)} after {span(e.time_to_resolve_s or 0)}" \
            if when == "resolved" else f"{e.status}, started {_when(e.started_at)}"
        signature = f", signature `{_code(e.signature)}`" if e.signature else ""
        lead = f"- `{e.id}` {e.severity} {_text(e.service, 80)} ({_text(e.env, 40)})"
        lines.append(f"{lead}, {at}{signature}: {_text(e.title, TITLE_CHARS)}")
    return lines


def _recurrence(made: Digest) -> list[str]:
    t = made.thresholds
    lines = [f"Flagged: a service with {t.service_7d} or more incidents in 7 days or "
             f"{t.service_30d} or more in 30 days; a signature with {t.signature_7d} or more "
             f"in 7 days or {t.signature_30d} or more in 30 days.", ""]
    if not made.recurrence:
        return [*lines, "None."]
    lines += ["| | name | 7 days | 30 days | flagged |", "|---|---|---|---|---|"]
    lines += [f"| {c.kind} | {_cell(c.name)} | {c.last_7d} | {c.last_30d} | "
              f"{'yes' if c.flagged else 'no'} |" for c in made.recurrence]
    return lines


def _overdue(made: Digest) -> list[str]:
    if not made.overdue_followups:
        return ["None."]
    return [f"- `{o.incident}` follow-up {o.number} ({o.priority}, {_text(o.owner, 60)}, due "
            f"{o.due}, {o.days_overdue} day(s) overdue): {_text(o.title, TITLE_CHARS)}"
            for o in made.overdue_followups]


def _when(stamp: str | None) -> str:
    return f"{parse_time(stamp).astimezone(UTC):%Y-%m-%d %H:%M} UTC" if stamp else "-"


def _text(text: str, limit: int) -> str:
    return one_line(text, limit)


def _code(text: str) -> str:
    return one_line(text, 120).replace("`", "'")


def _cell(text: str) -> str:
    return one_line(text, 120).replace("|", "\\|")
