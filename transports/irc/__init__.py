"""The IRC transport (``type = "irc"``): one module per concept. Layer: transport.

``transport`` holds the settings, the reconnect loop and the thread-safe API; the
loader needs only ``Settings`` and ``create``, re-exported here. The rest: ``net``
(sockets, TLS, STS), ``link`` (the I/O loop of one connection), ``session`` (the
protocol), ``caps`` and ``sasl`` (capability negotiation, authentication),
``inbound`` (lines to messages), ``channels`` (joins), ``output`` (flood control and
queues), ``lines`` (framing, parsing, splitting), ``state`` (per-connection facts).
See docs/irc.md.
"""

from .transport import IrcTransport, Settings, create

__all__ = ["IrcTransport", "Settings", "create"]
