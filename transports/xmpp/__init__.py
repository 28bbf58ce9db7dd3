"""The XMPP transport (``type = "xmpp"``) on slixmpp. Layer: transport.

``transport`` holds the settings and the thread-safe API; the loader needs only
``Settings`` and ``create``, re-exported here. The rest: ``session`` (connect,
reconnect, send, shut down), ``client`` (the slixmpp client, connection deadlines),
``rooms`` (MUC joins, retries, self-ping), ``inbound`` (what reaches the core),
``support`` (room specs, backoff, failure log, reply text). See docs/xmpp.md.
"""

from .transport import Settings, XMPPTransport, create

__all__ = ["Settings", "XMPPTransport", "create"]
