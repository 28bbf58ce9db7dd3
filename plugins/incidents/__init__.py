"""Incidents in chat, on any transport: Corto's workflow on the incident log's stores.

``!incident <subcommand>`` (``!inc``): create, list, show, log, sev, coordinator,
resolve, close, reopen, note, notes, followup, followups, recurrence, postmortem,
status, correlate, help. With
``corto_compat = true``, Corto's own lines work too (``univac: create <title>``,
``univac: set-coordinator <id> <user>``...). docs/incidents.md is the full page.

The parts, one module per concept:

- ``model``: the records (incident, event, artifact) and the rules (status changes,
  follow-ups, severities, finding an incident by id, short id or number);
- ``service``: the operations, apart from chat; ``commands``: the subcommands, with
  roles and privacy from ``privacy``; ``compat``: Corto's names; ``render``: the lines;
- ``shifts``: handover shifts; ``document``: each incident's working document;
- ``stores``: ``jsonl`` (the default), ``postgres`` and ``auto``;
- ``tracker``: where incidents are mirrored: nowhere, or Phabricator (``phabricator``
  over ``conduit``);
- ``recurrence``: incidents per service and signature over 7 and 30 days; ``history``:
  an incident's status and severity at a moment; ``digest`` (and ``digest_markdown``):
  the weekly digest, written by ``weekly``; ``postmortem``: a draft from the timeline;
- ``cli``: ``univac incidents migrate [--dry-run]`` and ``gate`` (``gate``, read from
  the store with ``offline``);
- ``alerts`` (the webhooks) and ``intake`` (the rules): alerts in, from Alertmanager
  and PagerDuty; ``correlate``: related incidents, scored;
- ``pages``, ``views``, ``signin`` and ``templates/``: the pages the http plugin serves
  (``/incidents``, ``/incidents/<id>``, ``/incidents/weekly/<YYYY-Www>``), behind a
  reverse proxy's login or a token;
- ``timeline``: plugin events: ``incidents.alert`` told to other plugins, and the
  ``incidents.timeline`` lines they add (the runbooks plugin's steps and results).

Threads: commands run on reactive threads; the ``backend`` poller checks the store
(and, for ``auto``, brings PostgreSQL back) on its own thread; the ``weekly_digest``
and ``digest_catchup`` pollers write the weekly digest on theirs; ``setup`` opens the
store on the main thread, keeps the operations in ``ctx.shared.incidents`` for the
handlers (and the alerts' ``Intake`` in ``ctx.shared.intake``), and its teardown
closes the store. The webhooks and the pages run on the http plugin's worker threads;
``on_timeline`` on the thread of the plugin that sent the line.
``report`` (asked from any thread) gives the store in use, for ``!status`` and
``/healthz``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from univac import (
    Context,
    PluginError,
    Skip,
    WebhookRequest,
    WebhookResponse,
    command,
    every,
    on,
    webhook,
)

from . import alerts, commands, compat, pages, timeline, views, weekly
from .intake import Intake
from .service import Incidents
from .settings import Settings
from .stores.configured import open_store
from .tracker import tracker_for

__all__ = ["Settings", "alertmanager", "backend", "corto", "corto_names", "digest_catchup",
           "incident", "incident_page", "incidents_page", "on_timeline", "pagerduty",
           "report", "setup", "week_page", "weekly_digest", "weekly_page"]


def setup(ctx: Context[Settings]) -> Callable[[], None]:
    """Open the store; the teardown closes it."""
    incidents = Incidents(open_store(ctx.config, ctx.data_dir), ctx.config,
                          tracker_for(ctx.config))
    ctx.shared.incidents = incidents
    ctx.shared.intake = Intake(incidents, ctx.config)
    health = incidents.health()
    ctx.log.info("incidents: store %s, writing to %s (%s)", health.store, health.active,
                 health.detail)

    def teardown() -> None:
        ctx.shared.incidents = None
        incidents.tracker.close()
        incidents.store.close()

    return teardown


def report(ctx: Context[Settings]) -> str:
    """The store in use, in words (``!status``, ``/healthz``)."""
    incidents = getattr(ctx.shared, "incidents", None)
    return incidents.report() if incidents is not None else "not set up"


def _incidents(ctx: Context[Settings]) -> Incidents:
    found = getattr(ctx.shared, "incidents", None)
    if found is None:
        raise PluginError("the incidents plugin is not set up")
    return found


@command("incident", aliases=("inc",))
def incident(ctx: Context[Settings], *, subcommand: str = "") -> str | None:
    """Incidents: create, list, show, log, resolve... (incident help lists them all).

    Subcommands: create, list, show, log, sev, coordinator, resolve, close, reopen,
    note, notes, followup, followups, recurrence, postmortem, status, correlate;
    ``incident help <subcommand>`` explains one.
    """
    return commands.run(ctx, _incidents(ctx), subcommand,
                        commands.Form(f"{ctx.bot.prefix}incident ", {}))


@command("corto")
def corto(ctx: Context[Settings]) -> str:
    """What Corto's names (corto_compat) run, and whether they are on."""
    state = "on" if ctx.config.corto_compat else "off (corto_compat = false)"
    return f"{compat.mapping()} Corto compatibility is {state}."


@command(compat.FIRST, aliases=compat.OTHERS, enabled_by="corto_compat")
def corto_names(ctx: Context[Settings], *, arguments: str = "") -> str | None:
    """Corto's names: create, list, log, note, notes, resolve, set-coordinator."""
    name, rest, addressed = compat.typed(ctx)
    if not addressed:
        return None  # a bare !list in a channel may be meant for another bot
    return commands.run(ctx, _incidents(ctx), compat.line_of(name, rest), compat.form(ctx))


@every(setting="check_every")
def backend(ctx: Context[Settings]) -> None:
    """Check the store (StoreDown when nothing can be saved); ``auto`` tries PostgreSQL
    again. The fallback to JSON lines is no failure: ``report`` and a gauge say it."""
    incidents = _incidents(ctx)
    incidents.store.check()
    health = incidents.health()
    fallback = health.store == "auto" and health.active == "jsonl"
    ctx.gauge("incident_store_fallback", 1.0 if fallback else 0.0)


@every(setting="digest_schedule")
def weekly_digest(ctx: Context[Settings]) -> Skip | None:
    """Write the weekly digest of the week that ended, and post its counts."""
    return weekly.run(ctx, _incidents(ctx))


@every(3600)
def digest_catchup(ctx: Context[Settings]) -> Skip | None:
    """Soon after start, then hourly: write a weekly digest the bot missed while down."""
    return weekly.run(ctx, _incidents(ctx))


def _intake(ctx: Context[Settings]) -> Intake:
    _incidents(ctx)
    return ctx.shared.intake


@webhook("/incidents/alertmanager")
def alertmanager(ctx: Context[Settings], request: WebhookRequest) -> WebhookResponse | str:
    """Alertmanager notifications: each alert opens an incident or joins one."""
    return alerts.alertmanager(ctx, _intake(ctx), request)


@webhook("/incidents/pagerduty")
def pagerduty(ctx: Context[Settings], request: WebhookRequest) -> WebhookResponse | str:
    """PagerDuty v3 incident events, signed: each opens an incident or joins one."""
    return alerts.pagerduty(ctx, _intake(ctx), request)


@on(timeline.TIMELINE_TOPIC)
def on_timeline(ctx: Context[Settings], event: Mapping[str, Any]) -> None:
    """Another plugin's line for an incident's timeline (a runbook step, its result)."""
    timeline.record(ctx, _incidents(ctx), event)


# Pages (docs/incidents.md, "Pages"): one route and one template each -------------------


@webhook("/incidents", methods=("GET",), own_auth=True)
def incidents_page(ctx: Context[Settings], request: WebhookRequest) -> WebhookResponse:
    """``/incidents``: the open and recent incidents, by service and severity."""
    return pages.serve(ctx, request, views.index)


@webhook("/incidents/weekly", methods=("GET",), own_auth=True)
def weekly_page(ctx: Context[Settings], request: WebhookRequest) -> WebhookResponse:
    """``/incidents/weekly``: the weekly digests written, newest first."""
    return pages.serve(ctx, request, _weekly(ctx))


@webhook("/incidents/weekly/*", methods=("GET",), own_auth=True)
def week_page(ctx: Context[Settings], request: WebhookRequest) -> WebhookResponse:
    """``/incidents/weekly/<YYYY-Www>``: one week's digest."""
    return pages.serve(ctx, request, _weekly(ctx))


def _weekly(ctx: Context[Settings]) -> Callable[[pages.Visit], pages.Page]:
    folder = ctx.config.digest_folder(ctx.data_dir)
    return lambda visit: views.weekly(visit, folder)


@webhook("/incidents/*", methods=("GET",), own_auth=True)
def incident_page(ctx: Context[Settings], request: WebhookRequest) -> WebhookResponse:
    """``/incidents/<id>``: one incident's timeline, follow-ups and artifacts."""
    return pages.serve(ctx, request, views.incident)
