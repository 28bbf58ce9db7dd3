"""The XMPP transport: rooms (XEP-0045) and direct messages, on slixmpp. Layer: transport.

Threads: ``run`` is called on the transport's own thread (``transport:<name>``); it
creates an asyncio loop there and the slixmpp client on it, and nothing else ever
touches them. ``send``, ``stop`` and ``status`` are called from any thread: ``send``
and ``stop`` cross into the loop with ``call_soon_threadsafe``; ``status`` reads an
immutable snapshot that the loop thread replaces (``univac.LoopHost`` does all this).

The pieces: ``session`` (connect, reconnect, send, shut down), ``client`` (the
slixmpp client and one connection attempt's deadlines), ``rooms`` (join, retry, nick
conflicts, self-ping, kicks), ``inbound`` (what reaches the core and what is ignored),
``settings``, ``support`` (room specs, the plaintext check, reply text).
See docs/xmpp.md for every setting.
"""

from __future__ import annotations

import logging

from univac import Deliver, LoopHost, TransportStatus

from .session import Session
from .settings import Settings
from .support import parse_rooms

log = logging.getLogger("univac.transports.xmpp")


def create(name: str, settings: Settings) -> XMPPTransport:
    """Return the XMPP transport named ``name`` (``Settings`` checked itself already)."""
    return XMPPTransport(name, settings)


class XMPPTransport:
    """The thread-facing side of the transport (see the module docstring)."""

    def __init__(self, name: str, settings: Settings) -> None:
        self.name = name
        self.settings = settings
        self.specs = parse_rooms(settings.rooms, settings.room_passwords, settings.nick)
        self._host = LoopHost(TransportStatus(state="starting", nick=settings.nick))

    def run(self, deliver: Deliver) -> None:
        """Connect, serve and reconnect until ``stop``; runs on the transport's thread."""
        self._host.run(lambda loop: Session(self.name, self.settings, self.specs, deliver,
                                            self._host.publish, loop))

    def send(self, target: str, text: str) -> None:
        """Queue ``text`` for a room (groupchat) or a JID (chat). Thread-safe."""
        self._host.send(target, text)

    def stop(self, goodbye: str = "") -> None:
        """Leave rooms with ``goodbye`` as status, close the stream, end ``run``. Thread-safe."""
        self._host.stop(goodbye)

    def status(self) -> TransportStatus:
        """A snapshot of the connection and joined rooms. Thread-safe."""
        return self._host.status()
