"""Runbooks from chat: declarative steps in git, guarded, approved, measured.

The plugin (enable ``runbooks``; the webhooks need the ``http`` plugin too):

- ``runbook list [service]``, ``runbook show <id>``, ``runbook run <id> [env]``,
  ``runbook next``, ``runbook override <id> [env] <reason>`` (chat.py); approvals with
  the ``approvals`` plugin's ``approve N`` / ``deny N``;
- ``<webhook_prefix>/runbooks/alertmanager`` and ``/runbooks/pagerduty`` (alerts.py);
  with the ``incidents`` plugin, its ``incidents.alert`` event instead (the steps go on
  the incident's timeline too).

The modules, one concept each: ``settings`` (the table), ``schema`` and ``yamlfile``
(a step, and reading YAML safely), ``catalogue`` (a folder of steps), ``promotion``,
``lint``, ``simulate``, ``guards``, ``locks``, ``execution`` (the subprocess),
``artifacts``, ``runtime`` (what ``setup`` makes, kept in ``ctx.shared``), ``activity``
(runs under way, locks held), ``runs`` (a run from request to result), ``flow`` (what a
channel follows), ``chat``, ``alerts``, ``overrides`` (the overrides query) and ``cli``
(``univac runbook``). ``report`` gives the plugin's line in ``!status`` and ``/healthz``.
docs/runbooks.md is the guide.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from univac import (
    Context,
    PluginError,
    UserError,
    WebhookRequest,
    WebhookResponse,
    command,
    on,
    webhook,
)

from . import alerts, chat
from .catalogue import Loaded
from .runtime import Runtime
from .settings import Settings

__all__ = ["Settings", "alertmanager", "incident_alert", "pagerduty", "report", "runbook",
           "setup"]


def setup(ctx: Context[Settings]):
    """Open the catalogue (its problems are logged) and the artifacts folder; the
    handlers find them in ``ctx.shared``."""
    settings = ctx.config
    root = Path(settings.catalogue).expanduser()
    if not root.is_dir():
        raise PluginError(f"catalogue {root} is not a folder")
    try:
        folder = _artifacts(ctx)
    except OSError as error:
        raise PluginError(f"cannot create artifacts_dir: {error.strerror or error}") from None
    runtime = Runtime(settings, Loaded(root), folder)
    catalogue = runtime.catalogue()
    ctx.log.info("runbooks: %d step(s) from %s%s; artifacts in %s", len(catalogue.steps), root,
                 f" at {catalogue.commit}" if catalogue.commit else "", folder)
    ctx.shared.runtime = runtime

    def teardown() -> None:
        ctx.shared.runtime = None

    return teardown


def _artifacts(ctx: Context[Settings]) -> Path:
    """``artifacts_dir``, made if missing; else the plugin's data folder."""
    if not ctx.config.artifacts_dir:
        return ctx.data_dir
    folder = Path(ctx.config.artifacts_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def report(ctx: Context[Settings]) -> str:
    """The plugin's line in ``!status`` and ``/healthz``: the catalogue's revision
    loaded, the runs in progress, the run locks held."""
    runtime = getattr(ctx.shared, "runtime", None)
    return runtime.status() if runtime is not None else "not set up"


def _runtime(ctx: Context[Settings]) -> Runtime:
    runtime = getattr(ctx.shared, "runtime", None)
    if runtime is None:
        raise UserError("The runbooks plugin is not running.")
    return runtime


@command("runbook")
def runbook(ctx: Context[Settings],
            action: Literal["list", "show", "run", "next", "override"] = "list", *words: str):
    """Runbooks: list [service] | show <id> | run <id> [env] | next | override <id> [env] <why>.

    Steps come from the catalogue (a git checkout of YAML files); ``run`` passes every
    guard (scopes, promotion, the runner role, approvals) before the command runs.
    """
    return chat.answer(ctx, _runtime(ctx), action, words)


@webhook("/runbooks/alertmanager")
def alertmanager(ctx: Context[Settings], request: WebhookRequest) -> str:
    """Alertmanager notifications: each alert and its first runbook step, to chat."""
    return alerts.alertmanager(ctx, _runtime(ctx), request)


@webhook("/runbooks/pagerduty")
def pagerduty(ctx: Context[Settings], request: WebhookRequest) -> WebhookResponse | str:
    """PagerDuty v3 incident events: the incident and its first runbook step, to chat."""
    return alerts.pagerduty(ctx, _runtime(ctx), request)


@on("incidents.alert")
def incident_alert(ctx: Context[Settings], event: Mapping[str, Any]) -> None:
    """An alert that opened or joined an incident (the incidents plugin): its first
    runbook step, to chat and to the incident's timeline."""
    alerts.from_incident(ctx, _runtime(ctx), event)
