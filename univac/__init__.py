"""Univac: a threaded, pluggable, multi-transport chat-ops bot.

This module is the public API, the one page plugin and transport authors read.
Everything not listed in ``__all__`` is internal and may change.

Plugins use: ``command``, ``match``, ``every`` (returning ``Skip`` or ``RetryAfter``
when they did not poll; on a ``Schedule`` such as a ``Calendar``), ``webhook`` (with
``WebhookRequest`` and ``WebhookResponse``), ``Context``, ``UserError``, ``UsageError``.
Transports use: ``Message``, ``Deliver``, ``Transport``, ``TransportStatus``,
``TransportError``. Anything that retries uses ``Backoff``.
"""

from univac.backoff import Backoff
from univac.botview import CommandInfo
from univac.context import Context
from univac.decorators import command, every, match, webhook
from univac.errors import (
    ConfigError,
    PluginError,
    TransportError,
    UnivacError,
    UsageError,
    UserError,
)
from univac.message import Deliver, Message
from univac.ops.metrics import MetricsReport
from univac.ops.reports import PollerReport, StatusReport
from univac.polls import RetryAfter, Skip
from univac.schedules import Calendar, Schedule
from univac.transport import Transport, TransportStatus
from univac.version import __version__
from univac.webhooks import WebhookRequest, WebhookResponse, WebhookRoute

__all__ = [
    "Backoff",
    "Calendar",
    "CommandInfo",
    "ConfigError",
    "Context",
    "Deliver",
    "Message",
    "MetricsReport",
    "PluginError",
    "PollerReport",
    "RetryAfter",
    "Schedule",
    "Skip",
    "StatusReport",
    "Transport",
    "TransportError",
    "TransportStatus",
    "UnivacError",
    "UsageError",
    "UserError",
    "WebhookRequest",
    "WebhookResponse",
    "WebhookRoute",
    "__version__",
    "command",
    "every",
    "match",
    "webhook",
]
