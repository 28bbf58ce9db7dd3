"""Read-only reports about the running bot, for ``help``, ``status``, health and metrics.

Layer: core; any thread may ask for a report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from univac.message import Message
from univac.metrics import MetricsReport
from univac.transport import TransportStatus
from univac.webhooks import WebhookRoute


@dataclass(frozen=True)
class CommandInfo:
    """One command as ``help`` shows it."""

    name: str
    aliases: tuple[str, ...]
    usage: str
    """Without the prefix, e.g. ``dns <name> [rtype]``."""
    summary: str
    """The first line of the docstring."""
    details: str
    """The rest of the docstring."""
    plugin: str


@dataclass(frozen=True)
class PollerReport:
    """One poller's health."""

    name: str
    runs: int
    failures: int
    """Consecutive failures since the last success."""
    last_ok: float | None
    last_error: str
    """The kind of the last error (its class name), never its text."""
    failures_total: int = 0
    """Failed runs since the bot started."""
    last_failure: float | None = None
    """``time.time()`` of the last failed run, if any."""


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


class BotView(Protocol):
    """What handlers may ask of the bot itself (``ctx.bot``)."""

    prefix: str

    def commands(self, message: Message | None = None) -> list[CommandInfo]:
        """Every enabled command sorted by name; with a message, those its sender may run."""

    def status(self) -> StatusReport:
        """A snapshot of the bot's health."""

    def metrics(self) -> MetricsReport:
        """What the bot has counted and timed since it started."""

    def webhooks(self) -> list[WebhookRoute]:
        """Every enabled ``@webhook``, ready to call (the http plugin routes to them)."""
