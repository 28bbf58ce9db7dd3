"""Status snapshots of the running bot, for ``!status``, ``/healthz`` and sd_notify.

Layer: core (operations); any thread may ask for a report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from univac.transport import TransportStatus


@dataclass(frozen=True)
class PollerReport:
    """One poller's health."""

    name: str
    runs: int
    """Real polls: runs that polled, failed or were told to retry later; not skips."""
    failures: int
    """Consecutive failures since the last success."""
    last_ok: float | None
    last_error: str
    """The kind of the last error (its class name), never its text."""
    failures_total: int = 0
    """Failed runs since the bot started."""
    last_failure: float | None = None
    """``time.time()`` of the last failed run, if any."""
    skipped: int = 0
    """Runs that found nothing to do (``Skip``); not in ``runs``."""
    deferred: int = 0
    """Runs the service told to come back later (``RetryAfter``); in ``runs``."""
    next_run: float | None = None
    """``time.time()`` of the next planned run, once the poller has started."""
    schedule: str = ""
    """When it runs, such as ``every 300 s`` or ``mon 08:00 UTC``."""


@dataclass(frozen=True)
class LeaseReport:
    """This instance's part with ``[ha]`` on: which role, since when, and why."""

    role: str
    """``leader``, ``taking over`` (holding the lease, waiting its grace period) or
    ``standby``."""
    epoch: int | None
    """The epoch this instance holds the lease with, if it does."""
    since: float
    """``time.time()`` of the last change of role."""
    detail: str
    """A short reason, such as ``another instance leads`` or ``cannot take the lease: ...``."""


@dataclass(frozen=True)
class StatusReport:
    """The bot at a glance."""

    version: str
    started: float
    transports: dict[str, TransportStatus]
    pollers: tuple[PollerReport, ...]
    plugin_errors: dict[str, str]
    counters: dict[str, int]
    reactive: tuple[int, int, int]
    """Threads, running jobs, queued jobs."""
    lease: LeaseReport | None = None
    """The leader lease, when ``[ha]`` is on."""
    plugins: dict[str, str] = field(default_factory=dict)
    """Plugins' own one-line reports (a plugin's ``report(ctx)`` hook), by plugin."""
