"""What the plugin holds while it runs: settings, model, GitHub client, counts.

Layer: plugin; made by ``setup`` on the main thread, then read from any thread. It
lives in ``ctx.shared`` (one namespace per plugin of one bot, shared by all its
contexts), so two bots in one process (tests) each have their own.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

from univac import Context, PluginError

from .github import GitHub
from .metrics import Counts
from .model import Labels, Model
from .settings import Settings

log = logging.getLogger("univac.plugin.triage")
DRY_RUN_LINES = 200


class Runtime:
    """One running triage plugin."""

    def __init__(self, ctx: Context[Settings]) -> None:
        self.settings: Settings = ctx.config
        self.labels = Labels(self.settings)
        self.model = Model(ctx.state, self.labels)
        self.counts = Counts(ctx)
        self.github = GitHub(self.settings, self._called)
        self.started = time.time()
        self.would: deque[str] = deque(maxlen=DRY_RUN_LINES)
        """In dry-run mode, the latest changes not made."""
        self.last_error = ""
        """The last poller failure, until a run succeeds (``!triage`` shows it)."""
        self.scan_failures: dict[int, int] = {}
        """Failed scans in a row, by issue number (the scan passes over one after 3)."""
        self.team_read = False
        """Whether the team was read since start (it is, before the first scan)."""
        self.update_gauges()

    def _called(self, method: str, seconds: float) -> None:
        """One call to GitHub made (answered or not): counted and timed."""
        self.counts.count("triage_api_calls", method=method)
        self.counts.observe("triage_api_call_seconds", seconds, method=method)

    def update_gauges(self) -> None:
        self.counts.gauge("triage_issues_tracked", self.model.tracked())
        self.counts.gauge("triage_pending_cleanups", len(self.model.pending()))
        quota = self.github.quota
        if quota.limit:
            self.counts.gauge("triage_rate_limit_remaining", quota.remaining)
            self.counts.gauge("triage_rate_limit_limit", quota.limit)

    def ran(self, kind: str, now: int) -> None:
        """A cleanup or tidy run ended: recorded in the model, counted, gauges set."""
        self.model.record_run(kind, now)
        self.counts.count(f"triage_{kind}_runs")
        self.update_gauges()

    def close(self) -> None:
        self.github.close()


def start(ctx: Context[Settings]) -> Runtime:
    runtime = ctx.shared.runtime = Runtime(ctx)
    return runtime


def of(ctx: Context[Any]) -> Runtime:
    """The runtime of the bot this context belongs to."""
    runtime = getattr(ctx.shared, "runtime", None)
    if runtime is None:
        raise PluginError("the triage plugin is not set up")
    return runtime


def stop(ctx: Context[Any]) -> None:
    runtime = getattr(ctx.shared, "runtime", None)
    if runtime is not None:
        del ctx.shared.runtime
        runtime.close()


def now_s(ctx: Context[Any]) -> int:
    """``ctx.now()`` in whole seconds since the epoch."""
    return int(ctx.now().timestamp())
