"""The XMPP transport: rooms (XEP-0045) and direct messages, on slixmpp. Layer: transport.

Threads: ``run`` is called on the transport's own thread (``transport:<name>``); it
creates an asyncio loop there and the slixmpp client on it, and nothing else ever
touches them. ``send``, ``stop`` and ``status`` are called from any thread: ``send``
and ``stop`` cross into the loop with ``call_soon_threadsafe``; ``status`` reads an
immutable snapshot that the loop thread replaces.

The pieces: ``session`` (connect, reconnect, send, shut down), ``client`` (the
slixmpp client and one connection attempt's deadlines), ``rooms`` (join, retry, nick
conflicts, self-ping, kicks), ``inbound`` (what reaches the core and what is ignored),
``support`` (room specs, backoff, failure log, reply text).
See docs/xmpp.md for every setting.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import queue
import threading
from collections.abc import Callable

from univac import Deliver, TransportStatus

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
        self._outbox: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._stopped = threading.Event()
        self._goodbye = ""
        self._session: Session | None = None
        self._live: tuple[Session, asyncio.AbstractEventLoop] | None = None
        """The running session and its loop, swapped as one reference for other threads."""
        self._status = TransportStatus(state="starting", nick=settings.nick)

    def run(self, deliver: Deliver) -> None:
        """Connect, serve and reconnect until ``stop``; runs on the transport's thread."""
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            session = Session(self.name, self.settings, self.specs, deliver, self._outbox,
                              self._publish, loop)
            self._session = session
            self._live = (session, loop)
            if self._stopped.is_set():
                session.request_stop(self._goodbye)
            loop.call_soon(session.drain)
            loop.run_until_complete(session.serve())
        finally:
            self._live = None
            _close_loop(loop)
            self._publish(dataclasses.replace(self._status, state="stopped", targets=()))

    def send(self, target: str, text: str) -> None:
        """Queue ``text`` for a room (groupchat) or a JID (chat). Thread-safe."""
        self._outbox.put((target, text))
        self._call_soon(lambda session: session.drain())

    def stop(self, goodbye: str = "") -> None:
        """Leave rooms with ``goodbye`` as status, close the stream, end ``run``. Thread-safe."""
        self._goodbye = goodbye
        self._stopped.set()
        self._call_soon(lambda session: session.request_stop(goodbye))

    def status(self) -> TransportStatus:
        """A snapshot of the connection and joined rooms. Thread-safe."""
        session = self._session
        inbound = session.last_inbound if session is not None else None
        return dataclasses.replace(self._status, last_inbound=inbound)

    def _publish(self, status: TransportStatus) -> None:
        self._status = status  # one reference swap: readers see the old or the new snapshot

    def _call_soon(self, action: Callable[[Session], None]) -> None:
        live = self._live
        if live is None:
            return  # run() has not started: it drains the outbox and checks stop itself
        session, loop = live
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(action, session)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on ``loop``, let it finish, and close the loop."""
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    asyncio.set_event_loop(None)
