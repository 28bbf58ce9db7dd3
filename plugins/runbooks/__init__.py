"""Runbooks from chat: declarative steps in git, guarded, approved, measured.

The plugin (enable ``runbooks``; the webhooks need the ``http`` plugin too):

- ``runbook list [service]``, ``runbook show <id>``, ``runbook run <id> [env]``,
  ``runbook next``, ``runbook override <id> [env] <reason>`` (chat.py); approvals with
  the ``approvals`` plugin's ``approve N`` / ``deny N``;
- ``<webhook_prefix>/runbooks/alertmanager`` and ``/runbooks/pagerduty`` (alerts.py).

The modules, one concept each: ``settings`` (the table), ``schema`` and ``yamlfile``
(a step, and reading YAML safely), ``catalogue`` (a folder of steps), ``promotion``,
``lint``, ``simulate``, ``guards``, ``locks``, ``execution`` (the subprocess),
``artifacts``, ``runs`` (a run from request to result), ``flow`` (what a channel follows),
``chat``, ``alerts``, ``overrides`` (the overrides query) and ``cli`` (``univac runbook``).
docs/runbooks.md is the guide.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal

from univac import (
    Context,
    PluginError,
    UserError,
    WebhookRequest,
    WebhookResponse,
    command,
    webhook,
)

from . import alerts, chat
from .catalogue import Loaded
from .runs import Runtime
from .settings import Settings

__all__ = ["Settings", "alertmanager", "pagerduty", "runbook", "setup"]

_runtimes: dict[int, Runtime] = {}
"""The runtime of each enabled instance, by its settings object (one per bot), so the
handlers find the catalogue ``setup`` opened; ``setup``'s teardown removes it."""
_runtimes_lock = threading.Lock()


def setup(ctx: Context[Settings]):
    """Open the catalogue (its problems are logged) and the artifacts folder."""
    settings = ctx.config
    root = Path(settings.catalogue).expanduser()
    if not root.is_dir():
        raise PluginError(f"catalogue {root} is not a folder")
    try:
        Path(settings.artifacts_dir).expanduser().mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PluginError(f"cannot create artifacts_dir: {error.strerror or error}") from None
    runtime = Runtime(settings, Loaded(root))
    catalogue = runtime.catalogue()
    ctx.log.info("runbooks: %d step(s) from %s%s", len(catalogue.steps), root,
                 f" at {catalogue.commit}" if catalogue.commit else "")
    key = id(settings)
    with _runtimes_lock:
        _runtimes[key] = runtime

    def teardown() -> None:
        with _runtimes_lock:
            _runtimes.pop(key, None)

    return teardown


def _runtime(ctx: Context[Settings]) -> Runtime:
    with _runtimes_lock:
        runtime = _runtimes.get(id(ctx.config))
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
