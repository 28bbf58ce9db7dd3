"""One slixmpp client and its life: connect, reconnect, send, shut down. Layer: transport.

Everything here runs on the transport's own thread, inside its asyncio loop. The only
ways in from other threads are ``XMPPTransport.send`` (``univac.LoopHost`` hands what
is queued to ``put`` on the loop) and ``XMPPTransport.stop`` (``request_stop``
through ``call_soon_threadsafe``).

Connection life: ``serve`` connects; an attempt is given up when the server says
nothing within ``connect_timeout_s`` or the login is not done within ``login_timeout_s``;
a session is pinged after ``ping_interval_s`` of silence and dropped when the ping
is not answered within ``ping_timeout_s``. After any drop or failed attempt it logs why
(``FailureLog``: rate-limited), waits with ``univac.Backoff`` (exponential with jitter,
starting again from ``reconnect_min_s`` only after a session that lasted
``healthy_after_s``, so a server that accepts the login and drops it at once is not
redialled every second) and connects again. A new session rejoins every room; a
resumed XEP-0198 stream keeps them. Replies for a room wait until the room is joined,
direct messages until the session is up; each target keeps its order, and a target
holds at most ``MAX_HELD`` replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from slixmpp import JID
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.jid import InvalidJID
from slixmpp.stanza import Message as Stanza

from univac import Backoff, Deliver, FailureLog, TransportStatus, background

from .client import DEFAULT_PORTS, Attempt, build_client, closed_because
from .inbound import to_message
from .rooms import RoomOptions, Rooms
from .support import RoomSpec, reply_text

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger("univac.transports.xmpp")

MAX_HELD = 200


class Session:
    """The client, its rooms and its outgoing messages."""

    def __init__(self, name: str, settings: Settings, specs: tuple[RoomSpec, ...],
                 deliver: Deliver, publish: Callable[[TransportStatus], None],
                 loop: asyncio.AbstractEventLoop) -> None:
        self.name, self.settings, self.deliver = name, settings, deliver
        self.publish = publish
        self.loop = loop
        self.client = build_client(settings, self.loop)
        self.rooms = Rooms(self.client, specs, _room_options(settings),
                           on_joined=self.flush, on_change=self._publish)
        self.held: dict[str, deque[str]] = {}
        self.online = False
        self.established = False
        self.up_since = 0.0
        """``time.monotonic()`` when the current session came up."""
        self.state, self.detail = "starting", ""
        self.last_inbound: float | None = None
        self.heard_at = 0.0
        """Loop time of the last stanza received (the keepalive pings after silence)."""
        self.sessions = 0
        self.stopping = asyncio.Event()
        self.goodbye = ""
        self.attempt = Attempt(loop)
        self.failures = FailureLog(log, name)
        self.keepalive: asyncio.Task | None = None
        self._wire()

    def _wire(self) -> None:
        on = self.client.add_event_handler
        on("session_start", self._on_session_start)
        on("session_resumed", self._on_session_resumed)
        on("disconnected", self._on_disconnected)
        on("connection_failed", self._on_connection_failed)
        on("failed_all_auth", lambda _e: self._fail_attempt("authentication failed"))
        on("ssl_invalid_chain", self._on_bad_certificate)
        on("stream_error", self._on_stream_error)
        on("message", self._on_message)
        self.client.add_filter("in", self._on_inbound)

    # -- connection life --------------------------------------------------------

    async def serve(self) -> None:
        """Connect and stay connected until ``request_stop``; then shut down cleanly."""
        runner = background(self.loop, self._connect_forever(), f"{self.name}: connect", log)
        await self.stopping.wait()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await self._shutdown()

    async def _connect_forever(self) -> None:
        s = self.settings
        backoff = Backoff(s.reconnect_min_s, s.reconnect_max_s, healthy_after_s=s.healthy_after_s)
        while True:
            await self._one_attempt()
            dropped, self.established = self.established, False
            if dropped:  # a session was up: healthy if it lasted long enough
                backoff.started(self.up_since)
            delay = backoff.failed()
            self.failures.ended(self.detail, delay, dropped=dropped)
            self._set_state("disconnected", f"{self.detail}; reconnect in {delay:.1f}s")
            await asyncio.sleep(delay)

    async def _one_attempt(self) -> None:
        """Dial, and return once this connection ended (or its deadlines gave up on it)."""
        self._set_state("connecting", self.detail)
        self.attempt = Attempt(self.loop)
        self.client.connect(*self._address())
        s, attempt = self.settings, self.attempt
        if not await attempt.reached(attempt.heard, s.connect_timeout_s):
            self._give_up(f"no answer from the server within {s.connect_timeout_s:g} s")
        elif not await attempt.reached(attempt.up, s.login_timeout_s):
            self._give_up(f"not logged in within {s.login_timeout_s:g} s")
        await attempt.ended

    def _give_up(self, why: str) -> None:
        """End this attempt: close its connection, or stop dialling if none was made."""
        self._fail_attempt(why)
        if self.client.transport is not None:
            self._close_link()
        else:
            self.client.cancel_connection_attempt()
            self.attempt.end()

    def _close_link(self) -> None:
        """Close the connection at once; the "disconnected" event ends the attempt.

        In the middle of a STARTTLS handshake, asyncio's TLS layer holds the socket and
        does not tell slixmpp that it closed; then slixmpp is told here.
        """
        transport = self.client.transport
        self.client.abort()
        if transport is not None and transport.get_protocol() is not self.client:
            self.loop.call_soon(self._closed_in_handshake, transport)

    def _closed_in_handshake(self, transport: object) -> None:
        if self.client.transport is transport:
            self.client.connection_lost(None)

    def _address(self) -> tuple[str, int] | tuple[()]:
        if not self.settings.host:
            return ()
        return self.settings.host, self.settings.port or DEFAULT_PORTS[self.settings.tls]

    def _on_session_start(self, _event: object) -> None:
        self.online = self.established = True
        self.client.send_presence()
        self.rooms.join_all()
        self._session_up("connected")

    def _on_session_resumed(self, _event: object) -> None:
        self.online = self.established = True
        self.rooms.session_resumed()
        self._session_up("stream resumed")

    def _session_up(self, detail: str) -> None:
        self.sessions += 1
        self.up_since = time.monotonic()
        self.attempt.mark(self.attempt.up)
        log.info("%s: %s as %s%s", self.name, detail, self.client.boundjid,
                 self.failures.connected_note())
        self._set_state("connected", detail)
        for target in [t for t in self.held if self._ready(t)]:
            self.flush(target)
        if self.settings.ping_interval_s > 0 and self.keepalive is None:
            self.heard_at = self.loop.time()
            self.keepalive = background(self.loop, self._keep_alive(),
                                        f"{self.name}: keepalive", log)

    def _on_disconnected(self, reason: object) -> None:
        self.online = False
        self.rooms.session_lost()
        self._stop_keepalive()
        self._note(self.attempt.error or closed_because(reason))
        self.attempt.end()

    def _on_connection_failed(self, error: object) -> None:
        self.client.cancel_connection_attempt()
        if isinstance(error, str) and error.startswith("No DNS record"):
            error = f"DNS lookup failed for {self.settings.host or self.client.boundjid.domain}"
        self._note(f"connection failed: {error}")
        self.attempt.end()

    def _on_bad_certificate(self, error: object) -> None:
        self._fail_attempt(f"TLS certificate not trusted: {error}")
        self._close_link()

    def _on_stream_error(self, error: object) -> None:
        condition = error["condition"]  # type: ignore[index]
        if condition == "conflict":
            # Another session took our resource: back off instead of fighting over it.
            self.established = False
            self._fail_attempt(f"another session logged in as {self.client.boundjid}")
        else:
            self._fail_attempt(f"stream error: {condition}")

    def _fail_attempt(self, why: str) -> None:
        """Remember why this attempt failed; the drop that follows keeps this reason."""
        self.attempt.error = why
        self._note(why)

    async def _keep_alive(self) -> None:
        """Ping the server after ``ping_interval_s`` of silence; no answer drops the link.

        Not slixmpp's XEP-0199 keepalive: that pings at a fixed interval, busy or not,
        and on a timeout reconnects by itself, around this session's backoff.
        """
        silence, timeout = self.settings.ping_interval_s, self.settings.ping_timeout_s
        while True:
            quiet = self.loop.time() - self.heard_at
            if quiet < silence:
                await asyncio.sleep(silence - quiet)
                continue
            try:
                await self.client.plugin["xep_0199"].send_ping(
                    JID(self.client.boundjid.domain), timeout=timeout)
            except IqTimeout:
                self.keepalive = None
                self._fail_attempt(f"no answer to a ping within {timeout:g} s")
                self._close_link()
                return
            except IqError:
                pass  # an error reply still proves the link is alive

    def _stop_keepalive(self) -> None:
        if self.keepalive is not None:
            self.keepalive.cancel()
            self.keepalive = None

    def request_stop(self, goodbye: str) -> None:
        self.goodbye = goodbye
        self.stopping.set()

    async def _shutdown(self) -> None:
        """Leave the rooms, send unavailable presence, close the stream."""
        self._note("stopping")
        self._stop_keepalive()
        if self.online and self.client.transport is not None:
            self.rooms.leave_all(self.goodbye)
            self.client.send_presence(ptype="unavailable", pstatus=self.goodbye or None)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.client.disconnect(wait=2, reason="stop"), 5)
        else:
            self.rooms.close()
            self.client.cancel_connection_attempt()
            self.client.abort()
        dropped = sum(len(held) for held in self.held.values())
        if dropped:
            log.warning("%s: %d replies never sent (not connected or room not joined)",
                        self.name, dropped)
        self.online = False
        self._set_state("stopped", "")

    # -- messages ---------------------------------------------------------------

    def _on_inbound(self, stanza: object) -> object:
        self.last_inbound = time.time()
        self.heard_at = self.loop.time()
        self.attempt.mark(self.attempt.heard)
        return stanza

    def _on_message(self, stanza: Stanza) -> None:
        message = to_message(stanza, self.name, self.client.boundjid, self.rooms.view)
        if message is not None:
            self.deliver(message)

    def put(self, target: str, text: str) -> None:
        """Send one reply other threads queued, or hold it (``LoopHost`` calls it)."""
        try:
            key = str(JID(target))
        except InvalidJID:
            log.warning("%s: cannot send to %r: not a JID", self.name, target)
            return
        body = reply_text(text, self.settings.max_lines_per_reply)
        if not body.strip():
            return
        if key in self.held or not self._ready(key):
            held = self.held.setdefault(key, deque(maxlen=MAX_HELD))
            if len(held) == MAX_HELD:
                log.warning("%s: too many replies waiting for %s; dropped the oldest",
                            self.name, key)
            held.append(body)
            return
        self._transmit(key, body)

    def _ready(self, key: str) -> bool:
        room = self.rooms.view(key)
        return self.online and (room is None or room.joined)

    def flush(self, key: str) -> None:
        """Send what waited for ``key`` (called when its room was joined)."""
        held = self.held.pop(key, ())
        for body in held:
            self._transmit(key, body)

    def _transmit(self, key: str, body: str) -> None:
        kind = "groupchat" if self.rooms.view(key) is not None else "chat"
        self.client.send_message(mto=key, mbody=body, mtype=kind)

    # -- status -----------------------------------------------------------------

    def _note(self, detail: str) -> None:
        self.detail = detail
        self._publish()

    def _set_state(self, state: str, detail: str) -> None:
        self.state, self.detail = state, detail
        self._publish()

    def _publish(self) -> None:
        details = "; ".join(d for d in (self.detail, self.rooms.errors()) if d)
        self.publish(TransportStatus(
            state=self.state, nick=self.settings.nick,
            targets=self.rooms.joined() if self.online else (), detail=details,
            reconnects=max(self.sessions - 1, 0)))


def _room_options(settings: Settings) -> RoomOptions:
    return RoomOptions(
        alt_nick_suffix=settings.alt_nick_suffix, join_timeout_s=settings.join_timeout_s,
        retry_min_s=settings.reconnect_min_s, retry_max_s=settings.reconnect_max_s,
        healthy_after_s=settings.healthy_after_s,
        self_ping_interval_s=settings.self_ping_interval_s, ping_timeout_s=settings.ping_timeout_s)
