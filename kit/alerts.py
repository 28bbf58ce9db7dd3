"""Alerts in: Alertmanager and PagerDuty v3 webhook payloads as one ``Alert`` type, and
PagerDuty's webhook signature.

Part of the plugin kit; pure functions, run on whichever thread calls them (webhook
handlers: the HTTP server's worker threads).

- ``alertmanager(payload, ...)``: every alert of an Alertmanager notification (its
  webhook JSON, version 4); ``UserError`` (a 400 from a webhook) when it is none.
- ``pagerduty(payload)``: the event of a PagerDuty v3 webhook payload;
  ``PagerDutyEvent.alert(...)`` the ``Alert`` it reports (triggered, reopened,
  acknowledged, resolved), None for the other event types.
- ``pagerduty_sign`` / ``pagerduty_verify``: ``X-PagerDuty-Signature: v1=<hex>``, the
  HMAC-SHA256 of the body under the subscription's signing secret; during a secret
  rotation PagerDuty sends several, comma-separated, and one matching is enough.

Text in an ``Alert`` is as the sender wrote it: make it one line (``kit.text``) before
it is said. ``Alert.fields()`` and ``Alert.of_fields(...)`` carry an alert in a plugin
event (``ctx.emit``: plain values only) and back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from univac import UserError
from univac.kit.text import one_line

__all__ = [
    "PAGERDUTY_EVENTS", "PAGERDUTY_HEADER", "Alert", "PagerDutyEvent", "alertmanager",
    "pagerduty", "pagerduty_sign", "pagerduty_verify",
]

PAGERDUTY_HEADER = "X-PagerDuty-Signature"
PAGERDUTY_EVENTS = {"incident.triggered": "firing", "incident.reopened": "firing",
                    "incident.acknowledged": "acknowledged", "incident.resolved": "resolved"}
"""PagerDuty v3 event types that report an alert, and the ``Alert.status`` of each."""


@dataclass(frozen=True)
class Alert:
    """One alert, whatever sent it."""

    source: str
    """``alertmanager`` or ``pagerduty``."""
    status: str
    """``firing``, ``resolved`` or (PagerDuty) ``acknowledged``."""
    name: str
    """The ``alertname`` label; PagerDuty: ``PagerDuty #<number>``."""
    severity: str
    """The ``severity`` label; PagerDuty: the priority's name, else the urgency."""
    service: str
    environment: str
    summary: str
    """The ``summary`` annotation, else ``description``; PagerDuty: the title."""
    key: str
    """What stays the same while the alert lasts: Alertmanager's fingerprint,
    PagerDuty's incident id."""
    occurrence: str
    """What is the same when the sender repeats this report of it: the fingerprint,
    ``startsAt`` and status; PagerDuty's event id."""
    starts_at: str = ""
    url: str = ""
    """Alertmanager's ``generatorURL``; PagerDuty's incident page."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Alertmanager's labels; for PagerDuty, made from the incident: ``alertname`` (the
    title), ``service``, ``env``, ``severity``, ``urgency``, ``incident_key``."""
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def firing(self) -> bool:
        return self.status == "firing"

    def fields(self) -> dict[str, Any]:
        """The alert as plain values, for a plugin event."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return values | {"labels": dict(self.labels), "annotations": dict(self.annotations)}

    @classmethod
    def of_fields(cls, values: Mapping[str, Any]) -> Alert:
        """The alert ``fields()`` gave; ``UserError`` naming what is missing or wrong."""
        names = {f.name for f in dataclasses.fields(cls)} - {"labels", "annotations"}
        found = {name: str(values[name]) for name in names if name in values}
        try:
            return cls(**found, labels=_strings(values.get("labels")),
                       annotations=_strings(values.get("annotations")))
        except TypeError as error:
            raise UserError(f"not an alert: {error}") from None

    def line(self) -> str:
        """``[FIRING] DiskFull (critical) disk in prod: no space left on /var``."""
        severity = f" ({self.severity})" if self.severity else ""
        where = " in ".join(part for part in (self.service, self.environment) if part)
        return one_line(f"[{self.status.upper()}] {self.name}{severity} {where}: "
                        f"{self.summary}", 400)


def alertmanager(payload: Any, service_labels: Sequence[str] = ("service", "job"),
                 environment_labels: Sequence[str] = ("environment", "env"),
                 environment: str = "") -> list[Alert]:
    """Every alert of an Alertmanager notification, in its order.

    The service is the first of ``service_labels`` an alert has, the environment the
    first of ``environment_labels`` (else ``environment``). UserError when ``payload``
    is no notification with a list of alerts.
    """
    alerts = payload.get("alerts") if isinstance(payload, dict) else None
    if not isinstance(alerts, list) or not all(isinstance(a, dict) for a in alerts):
        raise UserError("expected an Alertmanager notification with a list of alerts")
    return [_alertmanager_alert(item, service_labels, environment_labels, environment)
            for item in alerts]


def _alertmanager_alert(item: Mapping[str, Any], service_labels: Sequence[str],
                        environment_labels: Sequence[str], environment: str) -> Alert:
    labels = _strings(item.get("labels"))
    notes = _strings(item.get("annotations"))
    status = "resolved" if str(item.get("status", "firing")) == "resolved" else "firing"
    key = str(item.get("fingerprint") or hashlib.sha256(
        repr(sorted(labels.items())).encode()).hexdigest()[:16])
    starts = str(item.get("startsAt") or "")
    return Alert(
        "alertmanager", status, labels.get("alertname", "alert"), labels.get("severity", ""),
        _first(labels, service_labels, ""), _first(labels, environment_labels, environment),
        notes.get("summary") or notes.get("description", ""), key,
        f"{key}@{starts}:{status}", starts, str(item.get("generatorURL") or ""), labels, notes)


@dataclass(frozen=True)
class PagerDutyEvent:
    """One event of a PagerDuty v3 webhook: its id, type (``incident.triggered``), when
    it happened and its ``data`` (the incident)."""

    id: str
    type: str
    occurred_at: str
    data: Mapping[str, Any]

    def alert(self, services: Mapping[str, str] | None = None,
              environment: str = "") -> Alert | None:
        """The alert this event reports, None for a type not in ``PAGERDUTY_EVENTS``.

        The service is PagerDuty's service name, through ``services`` where it differs;
        the environment is ``environment`` (PagerDuty has none).
        """
        status = PAGERDUTY_EVENTS.get(self.type)
        if status is None:
            return None
        data = self.data
        named = _summary(data.get("service"))
        service = (services or {}).get(named, named)
        severity = _summary(data.get("priority")) or str(data.get("urgency") or "")
        title = str(data.get("title") or "")
        number = data.get("number")
        labels = {"alertname": title, "service": service, "env": environment,
                  "severity": severity, "urgency": str(data.get("urgency") or ""),
                  "incident_key": str(data.get("incident_key") or "")}
        return Alert("pagerduty", status, f"PagerDuty #{number}" if number else
                     "PagerDuty incident", severity, service, environment, title,
                     str(data.get("id") or ""),
                     self.id or f"{data.get('id')}:{self.type}:{self.occurred_at}",
                     str(data.get("created_at") or ""),
                     str(data.get("html_url") or ""), labels)


def pagerduty(payload: Any) -> PagerDutyEvent:
    """The event of a PagerDuty v3 webhook payload; UserError when it is none."""
    event = payload.get("event") if isinstance(payload, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise UserError("expected a PagerDuty v3 webhook payload with an event")
    return PagerDutyEvent(str(event.get("id") or ""), str(event.get("event_type") or ""),
                          str(event.get("occurred_at") or ""), event["data"])


def pagerduty_sign(secret: str, body: bytes) -> str:
    """The signature PagerDuty would send for ``body``: ``v1=<hex>``."""
    return "v1=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def pagerduty_verify(secret: str, body: bytes, header: str) -> bool:
    """True when one of the header's comma-separated signatures is ``body``'s under
    ``secret`` (constant-time compare); False without a secret."""
    if not secret:
        return False
    expected = pagerduty_sign(secret, body).encode()
    return any(hmac.compare_digest(expected, part.strip().encode())
               for part in header.split(","))


def _summary(reference: Any) -> str:
    """A PagerDuty reference's ``summary`` (its name)."""
    return str(reference.get("summary") or "") if isinstance(reference, dict) else ""


def _first(labels: Mapping[str, str], names: Sequence[str], default: str) -> str:
    return next((labels[name] for name in names if labels.get(name)), default)


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
