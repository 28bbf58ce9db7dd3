"""The XMPP transport (``type = "xmpp"``) on slixmpp. Layer: transport.

``transport`` holds the thread-safe API; the loader needs only
``Settings`` and ``create``, re-exported here. The rest: ``session`` (connect,
reconnect, send, shut down), ``client`` (the slixmpp client, connection deadlines),
``rooms`` (MUC joins, retries, self-ping), ``inbound`` (what reaches the core),
``settings`` (checked settings), ``support`` (room specs, the plaintext check, reply
text). See docs/xmpp.md.
"""

from .transport import Settings, XMPPTransport, create

__all__ = ["Settings", "XMPPTransport", "create"]
