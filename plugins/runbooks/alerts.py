"""Alerts in: Alertmanager and PagerDuty v3 webhooks. The http plugin's worker threads;
automated steps on a thread of their own (``runbooks:auto:<step>``).

For each firing alert: one line of context (status, name, severity, service,
environment, summary) and the matching step it should start with, posted to
``alert_targets``, or to the ``transport:target`` an alert names in its
``chat_target`` label or annotation (so alert rules can send an alert into an
incident's channel); the channel's flow is set, so ``runbook next`` there offers the
next safe step. A ``safe_for_automation`` step that the guards allow runs at once, at
most once per alert within ``automation_repeat_s``.

Authentication: the http plugin checks the bearer token (Alertmanager's
``http_config.authorization``; PagerDuty sends it as a custom header of the webhook
subscription). PagerDuty's own signature, ``X-PagerDuty-Signature: v1=<hex
HMAC-SHA256 of the body>`` (several during a secret rotation, comma-separated), is
checked here when ``pagerduty_secret`` is set.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from univac import Context, UserError, WebhookRequest, WebhookResponse
from univac.kit.text import one_line

from . import flow, guards, runs
from .runs import Place, Runtime

SIGNATURE_HEADER = "X-PagerDuty-Signature"
FIRING_EVENTS = ("incident.triggered", "incident.reopened")
RESOLVED_EVENTS = ("incident.resolved",)
SEEN_KEY = "pagerduty:seen"
SEEN_KEEP = 500


@dataclass(frozen=True)
class Alert:
    """One alert, whatever sent it."""

    source: str
    firing: bool
    name: str
    severity: str
    service: str
    environment: str
    summary: str
    key: str
    """Alertmanager's fingerprint, PagerDuty's incident id."""
    target: str = ""
    """A ``transport:target`` the alert asks to be posted to."""

    def line(self) -> str:
        status = "FIRING" if self.firing else "RESOLVED"
        severity = f" ({self.severity})" if self.severity else ""
        where = " in ".join(part for part in (self.service, self.environment) if part)
        return one_line(f"[{status}] {self.name}{severity} {where}: {self.summary}", 400)


def alertmanager(ctx: Context, runtime: Runtime, request: WebhookRequest) -> str:
    """Post each alert of an Alertmanager notification (``max_alerts`` at most)."""
    payload = request.json()
    alerts = payload.get("alerts") if isinstance(payload, dict) else None
    if not isinstance(alerts, list) or not all(isinstance(a, dict) for a in alerts):
        raise UserError("expected an Alertmanager notification with a list of alerts")
    settings = runtime.settings
    for item in alerts[: settings.max_alerts]:
        post(ctx, runtime, from_alertmanager(item, runtime))
    if len(alerts) > settings.max_alerts:
        for target in settings.alert_targets:
            ctx.say(target, f"... and {len(alerts) - settings.max_alerts} more alert(s)")
    return f"posted {min(len(alerts), settings.max_alerts)} alert(s)\n"


def from_alertmanager(item: Mapping[str, Any], runtime: Runtime) -> Alert:
    settings = runtime.settings
    labels = _strings(item.get("labels"))
    notes = _strings(item.get("annotations"))
    service = next((labels[k] for k in settings.service_labels if labels.get(k)), "")
    environment = next((labels[k] for k in settings.environment_labels if labels.get(k)),
                       settings.alert_environment)
    key = str(item.get("fingerprint") or hashlib.sha256(
        repr(sorted(labels.items())).encode()).hexdigest()[:16])
    return Alert("alertmanager", str(item.get("status", "firing")) != "resolved",
                 labels.get("alertname", "alert"), labels.get("severity", ""), service,
                 environment, notes.get("summary") or notes.get("description", ""), key,
                 labels.get(settings.target_label) or notes.get(settings.target_label, ""))


def pagerduty(ctx: Context, runtime: Runtime, request: WebhookRequest) -> WebhookResponse | str:
    """Post a PagerDuty v3 incident event (triggered, reopened, resolved)."""
    secret = runtime.settings.pagerduty_secret
    if secret:
        header = request.header(SIGNATURE_HEADER)
        if not header:
            return WebhookResponse(401, f"{SIGNATURE_HEADER} is missing\n")
        if not signature_ok(secret, request.body, header):
            return WebhookResponse(403, f"{SIGNATURE_HEADER} does not match the body\n")
    payload = request.json()
    event = payload.get("event") if isinstance(payload, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise UserError("expected a PagerDuty v3 webhook payload with an event")
    kind = str(event.get("event_type", ""))
    if kind not in FIRING_EVENTS + RESOLVED_EVENTS:
        return WebhookResponse(202, f"event {one_line(kind, 64) or '(none)'} is not posted\n")
    if not _first_time(ctx, str(event.get("id", ""))):
        return "this event was already handled\n"
    post(ctx, runtime, from_pagerduty(event["data"], kind in FIRING_EVENTS, runtime))
    return "posted 1 alert(s)\n"


def from_pagerduty(data: Mapping[str, Any], firing: bool, runtime: Runtime) -> Alert:
    settings = runtime.settings
    service_field = data.get("service")
    named = str(service_field.get("summary", "")) if isinstance(service_field, dict) else ""
    service = settings.pagerduty_services.get(named, named)
    priority = data.get("priority")
    severity = str(priority.get("summary", "")) if isinstance(priority, dict) else ""
    title = str(data.get("title", ""))
    number = data.get("number")
    name = f"PagerDuty #{number}" if number else "PagerDuty incident"
    return Alert("pagerduty", firing, name, severity or str(data.get("urgency", "")), service,
                 settings.alert_environment, title, str(data.get("id", "")))


def signature_ok(secret: str, body: bytes, header: str) -> bool:
    """True when one of the header's ``v1=<hex>`` signatures is the body's HMAC-SHA256."""
    expected = "v1=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    given = [part.strip() for part in header.split(",")]
    return any(hmac.compare_digest(expected.encode(), part.encode()) for part in given)


def post(ctx: Context, runtime: Runtime, alert: Alert) -> None:
    """Say the alert and the step to start with; set the flow; automate a safe step."""
    targets = _targets(ctx, runtime, alert)
    place = Place(targets, lambda text: _say_all(ctx, targets, text))
    place.say(alert.line())
    if not alert.firing:
        return
    catalogue = runtime.catalogue()
    settings = runtime.settings
    if alert.environment not in settings.environments:
        place.say(f"No step offered: {one_line(alert.environment, 32)} is not a known "
                  "environment.")
        return
    steps = catalogue.matching(alert.service, f"{alert.name} {alert.summary}")
    started = flow.Flow(alert.service, alert.environment, alert.line(),
                        tuple(step.id for step in steps))
    with ctx.state:
        for target in targets:
            flow.save(ctx.state, target, started)
    step, refused = guards.next_safe(steps, alert.environment, settings, catalogue)
    if step is None:
        what = f"{alert.service or 'any service'} / {alert.name}"
        place.say(f"No safe runbook step: {refused.reason}" if refused else
                  one_line(f"No runbook step matches {what}."))
        return
    place.say(f"Runbook: {runs.offer(step, alert.environment, catalogue, settings)}")
    if guards.automatic(step, alert.environment, settings, catalogue) and \
            _not_repeated(ctx, alert, step.id, settings.automation_repeat_s):
        place.say(f"Running {step.id} in {alert.environment} on its own (safe for automation).")
        thread = threading.Thread(
            target=_automate, args=(ctx, runtime, step, alert, place),
            name=f"runbooks:auto:{step.id}", daemon=True)
        thread.start()


def _automate(ctx: Context, runtime: Runtime, step: Any, alert: Alert, place: Place) -> None:
    try:
        runs.request(ctx, runtime, step, alert.environment, place, trigger=alert.source)
    except Exception:  # the thread's boundary: log it, keep the bot running
        ctx.log.exception("runbooks: the automated run of %s failed", step.id)
        place.say(f"The automated run of {step.id} failed; details are in the log.")


def _targets(ctx: Context, runtime: Runtime, alert: Alert) -> tuple[str, ...]:
    """The alert's own target when it names one this bot can reach, else alert_targets."""
    if alert.target:
        try:
            ctx.say(alert.target, "")  # resolves the target; an empty text sends nothing
            return (alert.target,)
        except ValueError:
            ctx.log.warning("runbooks: alert target %r is not reachable; using alert_targets",
                            alert.target)
    return tuple(runtime.settings.alert_targets)


def _say_all(ctx: Context, targets: tuple[str, ...], text: str) -> None:
    for target in targets:
        ctx.say(target, text)


def _not_repeated(ctx: Context, alert: Alert, step: str, window_s: float) -> bool:
    """True (and noted) unless this alert ran this step automatically within the window."""
    now = time.time()
    key = f"auto:{alert.source}:{alert.key}:{step}"
    with ctx.state:
        last = ctx.state.get(key)
        if isinstance(last, int | float) and now - last < window_s:
            return False
        names = ctx.state.keys()
        for old in [name for name in names if name.startswith("auto:")]:
            if now - float(ctx.state.get(old) or 0) >= window_s:
                del ctx.state[old]
        ctx.state[key] = now
    return True


def _first_time(ctx: Context, event_id: str) -> bool:
    """True (and remembered) unless the PagerDuty event was handled already."""
    if not event_id:
        return True
    with ctx.state:
        seen = ctx.state.get(SEEN_KEY) or []
        if event_id in seen:
            return False
        ctx.state[SEEN_KEY] = [*seen, event_id][-SEEN_KEEP:]
    return True


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
