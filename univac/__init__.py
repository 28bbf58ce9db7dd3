"""Univac: a threaded, pluggable, multi-transport chat-ops bot.

This module is the public API, the one page plugin and transport authors read.
Everything not listed in ``__all__`` is internal and may change.

Plugins use: ``command``, ``match``, ``every`` (returning ``Skip`` or ``RetryAfter``
when they did not poll; on a ``Schedule`` such as a ``Calendar``), ``webhook`` (with
``WebhookRequest`` and ``WebhookResponse``), ``on`` (plugin events, sent with
``ctx.emit``), ``Context``, ``UserError``, ``UsageError``;
in settings dataclasses, ``Target`` (a ``transport:target`` setting) and
``SettingsError``. Transports use: ``Message``, ``Deliver``, ``Transport``,
``TransportStatus``, ``TransportError`` (and ``SettingsError`` in their settings), and
``TransportContext`` when their ``create`` takes one (state in the store, run-time
secrets masked).
Anything that retries uses ``Backoff``; a transport on asyncio composes a
``LoopHost`` and logs failures with ``FailureLog``. State store backends (``univac.stores``)
implement ``Store`` and raise ``StoreError`` and ``StaleEpochError``; a plugin may
catch ``StoreError`` from ``ctx.state``. A plugin's command-line tool
(``univac NAME ...``) reads its settings with ``plugin_settings`` and finds the bot's
files with ``state_folder``.
"""

from univac.backoff import Backoff
from univac.botview import CommandInfo
from univac.checks import check_seconds, check_service_url
from univac.context import Context
from univac.decorators import command, every, match, on, webhook
from univac.engine.store import Store
from univac.errors import (
    ConfigError,
    PluginError,
    SettingsError,
    StaleEpochError,
    StoreError,
    TransportError,
    UnivacError,
    UsageError,
    UserError,
)
from univac.failurelog import FailureLog
from univac.loophost import LoopHost, background, until_stopped
from univac.message import Deliver, Message
from univac.ops.metrics import MetricsReport
from univac.ops.reports import PollerReport, StatusReport
from univac.plugincli import plugin_settings, state_folder
from univac.polls import RetryAfter, Skip
from univac.schedules import Calendar, Schedule
from univac.targets import Target
from univac.transport import Transport, TransportContext, TransportStatus
from univac.version import __version__
from univac.webhooks import WebhookRequest, WebhookResponse, WebhookRoute

__all__ = [
    "Backoff",
    "Calendar",
    "CommandInfo",
    "ConfigError",
    "Context",
    "Deliver",
    "FailureLog",
    "LoopHost",
    "Message",
    "MetricsReport",
    "PluginError",
    "PollerReport",
    "RetryAfter",
    "Schedule",
    "SettingsError",
    "Skip",
    "StaleEpochError",
    "StatusReport",
    "Store",
    "StoreError",
    "Target",
    "Transport",
    "TransportContext",
    "TransportError",
    "TransportStatus",
    "UnivacError",
    "UsageError",
    "UserError",
    "WebhookRequest",
    "WebhookResponse",
    "WebhookRoute",
    "__version__",
    "background",
    "check_seconds",
    "check_service_url",
    "command",
    "every",
    "match",
    "on",
    "plugin_settings",
    "state_folder",
    "until_stopped",
    "webhook",
]
