"""What a plugin may ask of the bot itself (``ctx.bot``), and how ``help`` sees a command.

Layer: core (plugin API); any thread. The engine's ``Bot`` satisfies ``BotView``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from univac.message import Message
from univac.ops.metrics import MetricsReport
from univac.ops.reports import StatusReport
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
