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
checked here when ``pagerduty_secret`` is set. The payloads are read, and the
signature checked, by the kit (``univac.kit.alerts``).

With the incidents plugin, alerts come through it instead (``from_incident``, for its
plugin event ``incidents.alert``): the same lines and the same automation, and every
line after the alert's own (the step offered, an automated run's result) also goes on
the incident's timeline (the event ``incidents.timeline``, type ``runbook``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from univac import Context, WebhookRequest, WebhookResponse
from univac.kit import alerts as parse
from univac.kit.alerts import PAGERDUTY_HEADER, Alert
from univac.kit.text import one_line

from . import flow, guards, runs
from .runs import Place, Runtime

SEEN_KEY = "pagerduty:seen"
SEEN_KEEP = 500


def alertmanager(ctx: Context, runtime: Runtime, request: WebhookRequest) -> str:
    """Post each alert of an Alertmanager notification (``max_alerts`` at most)."""
    settings = runtime.settings
    alerts = parse.alertmanager(request.json(), settings.service_labels,
                                settings.environment_labels, settings.alert_environment)
    for alert in alerts[: settings.max_alerts]:
        post(ctx, runtime, alert)
    if len(alerts) > settings.max_alerts:
        for target in settings.alert_targets:
            ctx.say(target, f"... and {len(alerts) - settings.max_alerts} more alert(s)")
    return f"posted {min(len(alerts), settings.max_alerts)} alert(s)\n"


def pagerduty(ctx: Context, runtime: Runtime, request: WebhookRequest) -> WebhookResponse | str:
    """Post a PagerDuty v3 incident event (triggered, reopened, resolved)."""
    secret = runtime.settings.pagerduty_secret
    if secret:
        header = request.header(PAGERDUTY_HEADER)
        if not header:
            return WebhookResponse(401, f"{PAGERDUTY_HEADER} is missing\n")
        if not parse.pagerduty_verify(secret, request.body, header):
            return WebhookResponse(403, f"{PAGERDUTY_HEADER} does not match the body\n")
    event = parse.pagerduty(request.json())
    alert = event.alert(runtime.settings.pagerduty_services, runtime.settings.alert_environment)
    if alert is None or alert.status not in ("firing", "resolved"):
        return WebhookResponse(202, f"event {one_line(event.type, 64) or '(none)'} is not "
                                    "posted\n")
    if not _first_time(ctx, event.id):
        return "this event was already handled\n"
    post(ctx, runtime, alert)
    return "posted 1 alert(s)\n"


def from_incident(ctx: Context, runtime: Runtime, event: Mapping[str, Any]) -> None:
    """An alert the incidents plugin took (``incidents.alert``): post it as a webhook's,
    and put the lines about steps on the incident's timeline."""
    alert = Alert.of_fields(event.get("alert") or {})
    incident = str(event.get("incident", ""))
    post(ctx, runtime, alert, lambda text: ctx.emit(
        "incidents.timeline", incident=incident, kind="runbook", message=text))


def post(ctx: Context, runtime: Runtime, alert: Alert,
         record: Callable[[str], object] = lambda text: None) -> None:
    """Say the alert and the step to start with; set the flow; automate a safe step.
    Every line after the alert's own is also given to ``record``."""
    targets = _targets(ctx, runtime, alert)

    def say(text: str) -> None:
        _say_all(ctx, targets, text)
        record(text)

    place = Place(targets, say)
    _say_all(ctx, targets, alert.line())
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
    label = runtime.settings.target_label
    target = alert.labels.get(label) or alert.annotations.get(label, "")
    if target:
        try:
            ctx.say(target, "")  # resolves the target; an empty text sends nothing
            return (target,)
        except ValueError:
            ctx.log.warning("runbooks: alert target %r is not reachable; using alert_targets",
                            target)
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

