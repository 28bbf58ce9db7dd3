"""Univac: a threaded, pluggable, multi-transport chat-ops bot.

This module is the public API, the one page plugin and transport authors read.
Everything not listed in ``__all__`` is internal and may change.

Plugins use: ``command``, ``match``, ``every``, ``Context``, ``UserError``,
``UsageError``. Transports use: ``Message``, ``Deliver``, ``Transport``,
``TransportStatus``, ``TransportError``.
"""

from univac.context import Context
from univac.decorators import command, every, match
from univac.errors import (
    ConfigError,
    PluginError,
    TransportError,
    UnivacError,
    UsageError,
    UserError,
)
from univac.message import Deliver, Message
from univac.report import CommandInfo, PollerReport, StatusReport
from univac.transport import Transport, TransportStatus
from univac.version import __version__

__all__ = [
    "CommandInfo",
    "ConfigError",
    "Context",
    "Deliver",
    "Message",
    "PluginError",
    "PollerReport",
    "StatusReport",
    "Transport",
    "TransportError",
    "TransportStatus",
    "UnivacError",
    "UsageError",
    "UserError",
    "__version__",
    "command",
    "every",
    "match",
]
