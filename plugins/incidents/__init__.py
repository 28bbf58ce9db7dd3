"""Incidents in chat, on any transport: Corto's workflow on the incident log's stores.

``!incident <subcommand>`` (``!inc``): create, list, show, log, sev, coordinator,
resolve, close, reopen, note, notes, followup, followups, recurrence, postmortem,
status, help. With
``corto_compat = true``, Corto's own lines work too (``univac: create <title>``,
``univac: set-coordinator <id> <user>``...). docs/incidents.md is the full page.

The parts, one module per concept:

- ``model``: the records (incident, event, artifact) and the rules (status changes,
  follow-ups, severities, finding an incident by id, short id or number);
- ``service``: the operations, apart from chat; ``commands``: the subcommands, with
  roles and privacy from ``privacy``; ``compat``: Corto's names; ``render``: the lines;
- ``shifts``: handover shifts; ``document``: each incident's working document;
- ``stores``: ``jsonl`` (the default), ``postgres`` and ``auto``;
- ``tracker``: where incidents are mirrored (none yet);
- ``recurrence``: incidents per service and signature over 7 and 30 days; ``history``:
  an incident's status and severity at a moment; ``digest`` (and ``digest_markdown``):
  the weekly digest, written by ``weekly``; ``postmortem``: a draft from the timeline;
- ``cli``: ``univac incidents migrate [--dry-run]`` and ``gate`` (``gate``, read from
  the store with ``offline``).

Threads: commands run on reactive threads; the ``backend`` poller checks the store
(and, for ``auto``, brings PostgreSQL back) on its own thread; the ``weekly_digest``
and ``digest_catchup`` pollers write the weekly digest on theirs; ``setup`` opens the
store on the main thread, keeps the operations in ``ctx.shared.incidents`` for the
handlers, and its teardown closes the store. ``report`` (asked from any thread) gives
the store in use, for ``!status`` and ``/healthz``.
"""

from __future__ import annotations

from collections.abc import Callable

from univac import Context, PluginError, Skip, command, every

from . import commands, compat, weekly
from .service import Incidents
from .settings import Settings
from .stores.configured import open_store
from .tracker import tracker_for

__all__ = ["Settings", "backend", "corto", "corto_names", "digest_catchup", "incident",
           "report", "setup", "weekly_digest"]


def setup(ctx: Context[Settings]) -> Callable[[], None]:
    """Open the store; the teardown closes it."""
    incidents = Incidents(open_store(ctx.config, ctx.data_dir), ctx.config,
                          tracker_for(ctx.config))
    ctx.shared.incidents = incidents
    health = incidents.health()
    ctx.log.info("incidents: store %s, writing to %s (%s)", health.store, health.active,
                 health.detail)

    def teardown() -> None:
        ctx.shared.incidents = None
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
    note, notes, followup, followups, recurrence, postmortem, status; ``incident help
    <subcommand>`` explains one.
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
