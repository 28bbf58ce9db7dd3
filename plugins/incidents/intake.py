"""The rules of alerts in: which incident an alert opens or joins. The http plugin's
worker threads (one alert at a time per signature).

An alert's signature is the values of the ``alert_labels`` (``alertname``, ``service``,
``env``) joined by ``/``, kept on the incident it opens as ``meta["signature"]``
(``HighErrorRate/api/prod``). For each alert:

- a report already recorded (the same ``occurrence``: fingerprint, ``startsAt`` and
  status; PagerDuty's event id) is a ``duplicate``: Alertmanager sends a firing alert
  again every ``repeat_interval``. Each report is one ``alert`` event whose id is made
  from it, so it is recorded once, whichever incident it joined;
- a firing alert joins the newest open incident with its signature (``appended``),
  else the newest incident with its signature opened less than ``alert_cooldown_s``
  ago, whatever its status (``cooled``: a flapping alert never opens a second
  incident; a resolved one stays resolved, people decide), else it opens one
  (``opened``);
- a resolved or acknowledged alert joins the incident its key (fingerprint, PagerDuty
  incident) joined last, else the newest incident with its signature that is not
  closed, else the one opened within the cooldown; with none it is ``unmatched``
  (nothing is written). With ``alert_resolves``, the incident is resolved once none
  of its alerts fires any more.

Deliveries of one signature wait for each other (a lock per signature), so two at
once never open two incidents; with ``[ha]`` only the leader takes webhooks.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from univac.kit.alerts import Alert
from univac.kit.text import one_line

from .model import SEVERITIES, Event, Incident, RuleError, ordered, parse_time
from .service import Actor, Done, Incidents
from .settings import Settings

ALERT = "alert"
"""The timeline event type of an alert report."""
OUTCOMES = ("opened", "appended", "cooled", "duplicate", "unmatched")
TITLE_CHARS = 300


@dataclass(frozen=True)
class Taken:
    """What became of one alert: its outcome, its incident (None when unmatched), and
    whether it resolved the incident."""

    outcome: str
    signature: str
    incident: Incident | None = None
    number: int = 0
    resolved: bool = False


def signature(alert: Alert, labels: tuple[str, ...]) -> str:
    """``HighErrorRate/api/prod``: the values of ``labels`` (empty where missing)."""
    return "/".join(alert.labels.get(name, "") for name in labels)


def event_id(alert: Alert) -> str:
    """The id of the event that records this report of the alert (the same each time)."""
    made = hashlib.sha256(f"{alert.source}\0{alert.occurrence}".encode()).hexdigest()
    return f"ev_{made[:16]}"


class Intake:
    """Alerts into incidents (see the module docstring)."""

    def __init__(self, incidents: Incidents, settings: Settings) -> None:
        self.incidents = incidents
        self.settings = settings
        self._locks: dict[str, tuple[threading.Lock, int]] = {}
        self._guard = threading.Lock()

    def take(self, alert: Alert, now: datetime) -> Taken:
        """Record one alert; a StoreError when the store cannot save it."""
        mark = signature(alert, self.settings.alert_labels)
        with self._locked(mark):
            store = self.incidents.store
            reports = store.events(types=(ALERT,))
            if any(e.id == event_id(alert) for e in reports):
                return Taken("duplicate", mark)
            every = store.incidents()
            found = [i for i in every if i.meta.get("signature") == mark]
            if alert.firing:
                return self._firing(alert, mark, found, now)
            return self._other(alert, mark, found, every, reports, now)

    def _firing(self, alert: Alert, mark: str, found: list[Incident], now: datetime) -> Taken:
        target = _newest(i for i in found if i.status == "open")
        if target is not None:
            return self._join(alert, mark, target, "appended", now)
        target = _newest(i for i in found if self._cooling(i, now))
        if target is not None:
            return self._join(alert, mark, target, "cooled", now)
        return self._open(alert, mark, now)

    def _other(self, alert: Alert, mark: str, found: list[Incident], every: list[Incident],
               reports: list[Event], now: datetime) -> Taken:
        joined = [e.incident_id for e in reports if e.meta.get("key") == alert.key
                  and e.meta.get("source") == alert.source]
        target = next((i for i in every if joined and i.id == joined[-1]), None)
        target = target or _newest(i for i in found if i.status != "closed") or \
            _newest(i for i in found if self._cooling(i, now))
        if target is None:
            return Taken("unmatched", mark)
        taken = self._join(alert, mark, target, "appended", now)
        if alert.status == "resolved" and self.settings.alert_resolves:
            return self._resolved(alert, taken, now)
        return taken

    def _open(self, alert: Alert, mark: str, now: datetime) -> Taken:
        s = self.settings
        done = self.incidents.create(
            title_of(alert), actor_of(alert), now, severity_of(alert.severity, s),
            alert.service or s.default_service, alert.environment or s.default_env,
            {"signature": mark, "source": alert.source})
        self._record(alert, mark, done.incident, now)
        return Taken("opened", mark, done.incident, done.number)

    def _join(self, alert: Alert, mark: str, incident: Incident, outcome: str,
              now: datetime) -> Taken:
        done = self._record(alert, mark, incident, now)
        return Taken(outcome, mark, done.incident, done.number)

    def _record(self, alert: Alert, mark: str, incident: Incident, now: datetime) -> Done:
        meta = {"source": alert.source, "status": alert.status, "key": alert.key,
                "occurrence": alert.occurrence, "starts_at": alert.starts_at,
                "url": alert.url, "signature": mark}
        return self.incidents.add_event(incident.id, ALERT, alert.line(), actor_of(alert),
                                        now, meta, event_id(alert))

    def _resolved(self, alert: Alert, taken: Taken, now: datetime) -> Taken:
        """Resolve the open incident ``taken`` joined unless one of its alerts fires."""
        incident = taken.incident
        assert incident is not None
        latest = {(e.meta.get("source"), e.meta.get("key")): e.meta.get("status")
                  for e in self.incidents.store.events(incident.id, (ALERT,))}
        if incident.status != "open" or "firing" in latest.values():
            return taken
        try:
            done = self.incidents.set_status(incident.id, "resolve", actor_of(alert), now)
        except RuleError:  # resolved by someone meanwhile
            return taken
        return Taken(taken.outcome, taken.signature, done.incident, done.number, True)

    def _cooling(self, incident: Incident, now: datetime) -> bool:
        opened = parse_time(incident.created_at)
        return now - opened < timedelta(seconds=self.settings.alert_cooldown_s)

    @contextmanager
    def _locked(self, mark: str) -> Iterator[None]:
        """Hold the lock of one signature (made on first use, dropped when unused)."""
        with self._guard:
            lock, users = self._locks.get(mark, (threading.Lock(), 0))
            self._locks[mark] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[mark]
                if users == 1:
                    del self._locks[mark]
                else:
                    self._locks[mark] = (lock, users - 1)


def _newest(incidents: Iterable[Incident]) -> Incident | None:
    found = ordered(incidents)
    return found[-1] if found else None


def title_of(alert: Alert) -> str:
    """``HighErrorRate: 5xx above 5% on the api``: the alert's name and summary."""
    name = alert.labels.get("alertname", "") or alert.name
    summary = alert.summary
    title = f"{name}: {summary}" if summary and name and name != summary else summary or name
    return one_line(title, TITLE_CHARS)


def severity_of(severity: str, settings: Settings) -> str:
    """The incident's severity for an alert's: ``alert_severities``, ``P0``..``P3``
    as they are, else ``default_severity``."""
    wanted = severity.strip()
    if wanted.upper() in SEVERITIES:
        return wanted.upper()
    mapped = {k.casefold(): v for k, v in settings.alert_severities.items()}
    return mapped.get(wanted.casefold(), settings.default_severity)


def actor_of(alert: Alert) -> Actor:
    """Who records an alert: its source (``alertmanager``, ``pagerduty``)."""
    return Actor(alert.source, alert.source)
