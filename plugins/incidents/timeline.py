"""What the incidents plugin tells other plugins, and the lines they add to an
incident's timeline (plugin events, ``ctx.emit`` / ``@on``). The emitting handler's
thread: the http plugin's worker threads for alerts, a runbook's thread for its lines.

Two topics, defined here:

- ``incidents.alert``, sent after an alert opened or joined an incident (outcome
  ``opened``, ``appended`` or ``cooled``; never for a repeated report): ``incident``
  (its id), ``number``, ``outcome``, ``alert`` (the alert, ``Alert.fields()`` of
  ``univac.kit.alerts``). The runbooks plugin listens, and offers the step to start
  with, so alerts need one route only (``/incidents/alertmanager``).
- ``incidents.timeline``, listened to here: ``incident`` (an id or a tracker
  reference such as ``T123``), ``message`` (one line, at most 1,000 characters kept),
  and ``kind`` (the event type: a lower-case word such as ``runbook``; ``note`` when
  absent). It is written as a timeline event by ``plugin:<source>``; an unknown
  incident or a bad field is refused (``UserError``, a warning in the log).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from univac import Context, UserError
from univac.kit.alerts import Alert
from univac.kit.text import one_line

from .service import Actor, Incidents
from .settings import Settings

ALERT_TOPIC = "incidents.alert"
TIMELINE_TOPIC = "incidents.timeline"
KIND = re.compile(r"[a-z][a-z_]{0,31}")
RESERVED = frozenset({"created", "status", "severity", "coordinator", "followup", "alert",
                      "correlation"})
"""Event types only this plugin writes: another plugin's line cannot pass for one."""
MESSAGE_CHARS = 1000


def tell_alert(ctx: Context[Settings], incident: str, number: int, outcome: str,
               alert: Alert) -> None:
    """Send ``incidents.alert`` for an alert that opened or joined ``incident``."""
    if outcome in ("opened", "appended", "cooled"):
        ctx.emit(ALERT_TOPIC, incident=incident, number=number, outcome=outcome,
                 alert=alert.fields())


def record(ctx: Context[Settings], incidents: Incidents, event: Mapping[str, Any]) -> None:
    """Write another plugin's ``incidents.timeline`` line on the incident it names."""
    ref, message = event.get("incident"), event.get("message")
    kind = event.get("kind") or "note"
    if not isinstance(ref, str) or not ref or not isinstance(message, str) or not message:
        raise UserError("incidents.timeline needs an incident and a message")
    if not isinstance(kind, str) or not KIND.fullmatch(kind) or kind in RESERVED:
        raise UserError(f"incidents.timeline: {one_line(str(kind), 40)!r} is no event type "
                        "another plugin may write")
    source = str(event.get("source", "plugin"))
    actor = Actor(f"plugin:{source}", source)
    incidents.add_event(ref, kind, one_line(message, MESSAGE_CHARS), actor, ctx.now(),
                        {"plugin": source})
