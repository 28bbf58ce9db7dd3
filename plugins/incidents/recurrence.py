"""Recurrence: how often a service, or an alert signature, had incidents. Pure; any thread.

Incidents are counted by when they started (``started_at``), in two windows ending at
a moment: the 7 days before it and the 30 days before it (``[end - days, end)``), by
service and by alert signature. An incident's signature is ``meta["signature"]`` (a
string such as ``HighErrorRate/api/prod``, set when an alert opened it); incidents
without one count for their service only. A service, or a signature, is flagged when
one window reaches its threshold (``Thresholds``, from the plugin's settings).

``!incident recurrence [service]`` shows the counts as of now, flagged ones first;
the weekly digest shows them as of the end of its week.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from univac.kit.text import one_line

from .model import Incident, parse_time

WEEK, MONTH = 7, 30
KINDS = ("service", "signature")


@dataclass(frozen=True)
class Thresholds:
    """A service, or a signature, is flagged with this many incidents or more in a window."""

    service_7d: int = 3
    service_30d: int = 5
    signature_7d: int = 2
    signature_30d: int = 3

    def of(self, kind: str) -> tuple[int, int]:
        """The (7 days, 30 days) thresholds of ``service`` or ``signature``."""
        return (self.service_7d, self.service_30d) if kind == "service" else \
            (self.signature_7d, self.signature_30d)


@dataclass(frozen=True)
class Count:
    """How many incidents one service or signature had in the two windows."""

    kind: str
    """``service`` or ``signature``."""
    name: str
    last_7d: int
    last_30d: int
    flagged: bool

    def line(self, thresholds: Thresholds) -> str:
        """``service api: 4 in 7 days, 6 in 30 days (flagged: >= 3 in 7 days)``."""
        week, month = thresholds.of(self.kind)
        why = [f">= {week} in 7 days"] if self.last_7d >= week else []
        why += [f">= {month} in 30 days"] if self.last_30d >= month else []
        flag = f" (flagged: {', '.join(why)})" if why else ""
        return one_line(f"{self.kind} {self.name}: {self.last_7d} in 7 days, {self.last_30d} "
                        f"in 30 days{flag}", 300)


def signature_of(incident: Incident) -> str | None:
    """The incident's alert signature, or None when it has none."""
    found = incident.meta.get("signature")
    return found if isinstance(found, str) and found else None


def count(incidents: Iterable[Incident], end: datetime, thresholds: Thresholds,
          service: str = "") -> list[Count]:
    """The counts of every service and signature with an incident in the 30 days before
    ``end`` (of ``service`` only, if given): flagged first, then the most incidents first,
    services before signatures, then by name."""
    month_start, week_start = end - timedelta(days=MONTH), end - timedelta(days=WEEK)
    tallies: dict[tuple[str, str], list[int]] = {}
    for incident in incidents:
        if service and incident.service.casefold() != service.casefold():
            continue
        started = parse_time(incident.started_at)
        if not month_start <= started < end:
            continue
        keys = [("service", incident.service)]
        signature = signature_of(incident)
        keys += [("signature", signature)] if signature else []
        for key in keys:
            tally = tallies.setdefault(key, [0, 0])
            tally[0] += started >= week_start
            tally[1] += 1
    found = [Count(kind, name, week, month, _flagged(kind, week, month, thresholds))
             for (kind, name), (week, month) in tallies.items()]
    return sorted(found, key=lambda c: (not c.flagged, -c.last_7d, -c.last_30d,
                                        KINDS.index(c.kind), c.name))


def _flagged(kind: str, week: int, month: int, thresholds: Thresholds) -> bool:
    week_at, month_at = thresholds.of(kind)
    return week >= week_at or month >= month_at
