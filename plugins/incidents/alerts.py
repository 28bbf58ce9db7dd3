"""Alerts in: the Alertmanager and PagerDuty v3 webhooks of the incidents plugin. The
http plugin's worker threads.

``<webhook_prefix>/incidents/alertmanager`` takes Alertmanager's notifications (every
alert of the group is taken), ``<webhook_prefix>/incidents/pagerduty`` PagerDuty's v3
events (``incident.triggered``, ``reopened``, ``acknowledged``, ``resolved``). The
http plugin checks the bearer token (or ``X-Hub-Signature-256``) of every request;
PagerDuty's own signature (``X-PagerDuty-Signature``) is checked here, against
``pagerduty_secret``: a request without a good one is answered 401 with the reason.
The payloads are read by the kit (``univac.kit.alerts``); which incident an alert
opens or joins is ``intake``'s business.

New incidents are announced in one message per target (``alert_targets``, else the
``channels`` that name their transport), as do a firing alert that joined a resolved
incident and an incident the alerts resolved. A target that is one of ``channels``
gets the details; any other only the incident's id and where to ask (``privacy``).
Every alert is counted: ``incident_alerts_total{source, outcome}`` on ``/metrics``.
Then each alert that opened or joined an incident is told to other plugins
(``incidents.alert``, see ``timeline``): the runbooks plugin offers its step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from univac import Context, StoreError, WebhookRequest, WebhookResponse
from univac.kit import alerts as parse
from univac.kit.alerts import PAGERDUTY_HEADER, Alert
from univac.kit.text import one_line

from . import render, timeline
from .intake import OUTCOMES, Intake, Taken
from .privacy import where_to_look
from .settings import Settings


def alertmanager(ctx: Context[Settings], intake: Intake, request: WebhookRequest
                 ) -> WebhookResponse | str:
    """Take every alert of an Alertmanager notification."""
    s = ctx.config
    found = parse.alertmanager(request.json(), s.alert_service_labels, s.alert_env_labels,
                               s.default_env)
    return take(ctx, intake, found)


def pagerduty(ctx: Context[Settings], intake: Intake, request: WebhookRequest
              ) -> WebhookResponse | str:
    """Take a PagerDuty v3 incident event whose signature is good."""
    s = ctx.config
    refused = _signature_refusal(s.pagerduty_secret, request)
    if refused:
        ctx.log.warning("incidents: PagerDuty webhook refused from %s: %s", request.remote,
                        refused)
        return WebhookResponse(401, refused + "\n")
    event = parse.pagerduty(request.json())
    alert = event.alert(s.pagerduty_services, s.default_env)
    if alert is None:
        return WebhookResponse(202, f"event {one_line(event.type, 64) or '(none)'} is not "
                                    "taken\n")
    return take(ctx, intake, [alert])


def _signature_refusal(secret: str, request: WebhookRequest) -> str:
    if not secret:
        return f"pagerduty_secret is not set, so {PAGERDUTY_HEADER} cannot be checked"
    header = request.header(PAGERDUTY_HEADER)
    if not header:
        return f"{PAGERDUTY_HEADER} is missing"
    if not parse.pagerduty_verify(secret, request.body, header):
        return f"{PAGERDUTY_HEADER} does not match the body"
    return ""


def take(ctx: Context[Settings], intake: Intake, alerts: Sequence[Alert]
         ) -> WebhookResponse | str:
    """Take each alert, count it, announce what people should see; 503 when the store
    cannot save (the sender tries again; what was taken is not taken twice)."""
    outcomes: Counter[str] = Counter()
    taken: list[Taken] = []
    try:
        for alert in alerts:
            one = intake.take(alert, ctx.now())
            ctx.count("incident_alerts", source=alert.source, outcome=one.outcome)
            outcomes[one.outcome] += 1
            taken.append(one)
    except StoreError as error:
        ctx.log.warning("incidents: an alert could not be saved: %s", error)
        return WebhookResponse(503, "the incident store cannot save alerts right now\n")
    finally:
        announce(ctx, taken)
        for alert, one in zip(alerts, taken, strict=False):
            if one.incident is not None:
                timeline.tell_alert(ctx, one.incident.id, one.number, one.outcome, alert)
    counts = ", ".join(f"{outcomes[name]} {name}" for name in OUTCOMES if outcomes[name])
    return f"{len(alerts)} alert(s): {counts or 'none'}\n"


def announce(ctx: Context[Settings], taken: Sequence[Taken]) -> None:
    """Say what people should know of ``taken`` to each announce target, in one message."""
    s = ctx.config
    for target in targets(s):
        detailed = shows_details(target, s)
        lines = [line for one in taken if (line := _line(ctx, one, detailed))]
        try:
            if lines:
                ctx.say(target, render.bounded(lines, s.max_lines, "see !incident list"))
        except ValueError as error:  # a channel on a transport that is not configured
            ctx.log.warning("incidents: cannot announce alerts to %s: %s", target, error)


def _line(ctx: Context[Settings], taken: Taken, detailed: bool) -> str:
    incident = taken.incident
    if incident is None:
        return ""
    ask = f"for details {where_to_look(ctx.config)}"
    lead = f"{incident.id} (#{taken.number})"
    if taken.outcome == "opened":
        if not detailed:
            return f"New incident {lead} from an alert; {ask}."
        return one_line(f"New incident {lead} {incident.severity} {incident.service} "
                        f"({incident.env}) from {incident.created_by}: {incident.title}", 400)
    if taken.resolved:
        return f"Resolved {lead}: its alerts resolved."
    if taken.outcome == "cooled" and incident.status != "open":
        reopen = f"{ctx.bot.prefix}incident reopen {incident.id}"
        if not detailed:
            return f"An alert fired again on {lead}, which is {incident.status}; {ask}."
        return one_line(f"{taken.signature} fired again on {lead}, which is "
                        f"{incident.status}; if the problem is back: {reopen}", 400)
    return ""


def targets(settings: Settings) -> tuple[str, ...]:
    """``alert_targets``, else the ``channels`` written ``transport:channel``."""
    if settings.alert_targets:
        return settings.alert_targets
    return tuple(c for c in settings.channels if _transport_of(c))


def shows_details(target: str, settings: Settings) -> bool:
    """Whether ``target`` (``irc:#sre``) is one of ``channels`` (``irc:#sre`` or ``#sre``),
    where details may be shown."""
    channel = target.split(":", 1)[1] if _transport_of(target) else target
    channels = {c.casefold() for c in settings.channels}
    return bool({target.casefold(), channel.casefold()} & channels)


def _transport_of(target: str) -> str:
    name, colon, _ = target.partition(":")
    return name if colon and name.isidentifier() else ""
