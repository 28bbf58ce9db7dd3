"""The XMPP transport: rooms (XEP-0045) and direct messages, on slixmpp. Layer: transport.

Threads: ``run`` is called on the transport's own thread (``transport:<name>``); it
creates an asyncio loop there and the slixmpp client on it, and nothing else ever
touches them. ``send``, ``stop`` and ``status`` are called from any thread: ``send``
and ``stop`` cross into the loop with ``call_soon_threadsafe``; ``status`` reads an
immutable snapshot that the loop thread replaces.

The pieces: ``xmpp_session`` (connect, reconnect, send, shut down), ``xmpp_rooms``
(join, retry, nick conflicts, self-ping, kicks), ``xmpp_inbound`` (what reaches the
core and what is ignored), ``xmpp_support`` (room specs, backoff, reply text).
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
from dataclasses import dataclass
from typing import Literal

from univac import Deliver, TransportStatus
from univac.transports.xmpp_session import Session
from univac.transports.xmpp_support import check_plaintext, parse_rooms

log = logging.getLogger("univac.transports.xmpp")


@dataclass(frozen=True)
class Settings:
    """Settings of one ``[[transports]]`` table with ``type = "xmpp"``."""

    jid: str
    """The bot's account, ``bot@example.org`` (bare JID; see ``resource``)."""
    password: str = ""
    """The account password; better given as ``password_file`` or ``password_env``."""
    resource: str = "univac"
    """Resource of the bot's session: the bot logs in as ``jid/resource``."""
    host: str = ""
    """Address to connect to; empty: the JID's domain (DNS SRV, then the domain itself)."""
    port: int = 0
    """Port with ``host``; 0: 5222 (5223 for ``tls = "direct"``)."""
    tls: Literal["starttls", "direct", "plaintext"] = "starttls"
    """STARTTLS, direct TLS, or no TLS at all (allowed only with a loopback address)."""
    ca_file: str = ""
    """Extra CA certificates (PEM) to trust, e.g. for a self-signed server."""
    nick: str = "univac"
    """The bot's nick in rooms that do not name one."""
    rooms: tuple[str, ...] = ()
    """Rooms to join: ``room@conference.example.org`` or ``room@conference.example.org/nick``."""
    room_passwords: tuple[str, ...] = ()
    """Passwords of protected rooms: ``room@conference.example.org=secret``."""
    alt_nick_suffix: str = "_"
    """Appended to the nick (once, twice, ... five times) when the nick is taken."""
    max_lines: int = 20
    """Lines per reply at most; longer replies end with a note of what was cut (0: no limit)."""
    reconnect_min: float = 1.0
    """First delay in seconds before reconnecting or retrying a room join (doubles, jittered)."""
    reconnect_max: float = 300.0
    """Longest delay in seconds between reconnect attempts or room join retries."""
    join_timeout: float = 30.0
    """Seconds to wait for a room's answer to a join before retrying."""
    self_ping_interval: float = 300.0
    """Seconds of room silence before a XEP-0410 self-ping checks we are still in (0: off)."""
    keepalive_interval: float = 60.0
    """Seconds between pings of the server that detect a dead link (0: off)."""
    ping_timeout: float = 30.0
    """Seconds to wait for the answer to a server ping or a room self-ping."""
    stream_management: bool = True
    """Use XEP-0198, so that a briefly dropped link resumes its session and rooms."""

    def __post_init__(self) -> None:
        """Check what the types cannot; a ValueError names the setting."""
        if "@" not in self.jid or "/" in self.jid:
            raise ValueError(f"jid: {self.jid!r} is not a bare JID such as bot@example.org")
        check_plaintext(self.tls, self.host, self.jid)
        parse_rooms(self.rooms, self.room_passwords, self.nick)
        if self.max_lines < 0:
            raise ValueError("max_lines: must be 0 (no limit) or more")


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
