"""One slixmpp client and its life: connect, reconnect, send, shut down. Layer: transport.

Everything here runs on the transport's own thread, inside its asyncio loop. The only
ways in from other threads are ``XMPPTransport.send`` (puts on ``outbox``, then wakes
``drain`` with ``call_soon_threadsafe``) and ``XMPPTransport.stop`` (``request_stop``
through ``call_soon_threadsafe``).

Connection life: ``serve`` connects; after any drop or failed attempt it waits with
exponential backoff and jitter (reset once a session was established) and connects
again. A new session rejoins every room; a resumed XEP-0198 stream keeps them. Replies
for a room wait until the room is joined, direct messages until the session is up;
each target keeps its order, and a target holds at most ``MAX_HELD`` replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import ssl
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from slixmpp import JID, ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.jid import InvalidJID
from slixmpp.stanza import Message as Stanza

from univac import Deliver, TransportError, TransportStatus

from .inbound import to_message
from .rooms import RoomOptions, Rooms
from .support import Backoff, RoomSpec, reply_text

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger("univac.transports.xmpp")

MAX_HELD = 200
DEFAULT_PORTS = {"starttls": 5222, "plaintext": 5222, "direct": 5223}


def build_client(settings: Settings, loop: asyncio.AbstractEventLoop) -> ClientXMPP:
    """Create the slixmpp client for ``settings`` on ``loop`` (the calling thread's)."""
    client = ClientXMPP(f"{settings.jid}/{settings.resource}", settings.password, loop=loop)
    client.enable_plaintext = settings.tls == "plaintext"
    client.enable_starttls = settings.tls == "starttls"
    client.enable_direct_tls = settings.tls == "direct"
    if settings.tls == "plaintext":
        client.plugin["feature_mechanisms"].unencrypted_plain = True
        client.plugin["feature_mechanisms"].unencrypted_scram = True
    if settings.tls_ca_file:
        try:
            client.ssl_context.load_verify_locations(cafile=settings.tls_ca_file)
        except (OSError, ssl.SSLError) as error:
            raise TransportError(f"tls_ca_file {settings.tls_ca_file}: {error}") from error
    for plugin in ("xep_0030", "xep_0045", "xep_0199", "xep_0410"):
        client.register_plugin(plugin)
    if settings.stream_management:
        client.register_plugin("xep_0198")
    return client


class Session:
    """The client, its rooms and its outgoing messages."""

    def __init__(self, name: str, settings: Settings, specs: tuple[RoomSpec, ...],
                 deliver: Deliver, outbox: queue.SimpleQueue,
                 publish: Callable[[TransportStatus], None],
                 loop: asyncio.AbstractEventLoop) -> None:
        self.name, self.settings, self.deliver = name, settings, deliver
        self.outbox, self.publish = outbox, publish
        self.loop = loop
        self.client = build_client(settings, self.loop)
        self.rooms = Rooms(self.client, specs, _room_options(settings),
                           on_joined=self.flush, on_change=self._publish)
        self.held: dict[str, deque[str]] = {}
        self.online = False
        self.established = False
        self.state, self.detail = "starting", ""
        self.last_inbound: float | None = None
        self.sessions = 0
        self.stopping = asyncio.Event()
        self.goodbye = ""
        self.ended: asyncio.Future | None = None
        self.attempt_error = ""
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
        runner = asyncio.ensure_future(self._connect_forever())
        await self.stopping.wait()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await self._shutdown()

    async def _connect_forever(self) -> None:
        backoff = Backoff(self.settings.reconnect_min_s, self.settings.reconnect_max_s)
        while True:
            self._set_state("connecting", self.detail)
            self.ended = self.loop.create_future()
            self.attempt_error = ""
            self.client.connect(*self._address())
            await self.ended
            if self.established:
                backoff.reset()
                self.established = False
            delay = backoff.next()
            self._set_state("disconnected", f"{self.detail}; reconnect in {delay:.1f}s")
            await asyncio.sleep(delay)

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
        log.info("%s: %s as %s", self.name, detail, self.client.boundjid)
        self._set_state("connected", detail)
        for target in [t for t in self.held if self._ready(t)]:
            self.flush(target)
        if self.settings.keepalive_interval_s > 0 and self.keepalive is None:
            self.keepalive = asyncio.ensure_future(self._keep_alive())

    def _on_disconnected(self, reason: object) -> None:
        self.online = False
        self.rooms.session_lost()
        if self.keepalive is not None:
            self.keepalive.cancel()
            self.keepalive = None
        self._note(self.attempt_error or (str(reason) if reason else "connection closed"))
        self._end_attempt()

    def _on_connection_failed(self, error: object) -> None:
        self.client.cancel_connection_attempt()
        self._note(f"connection failed: {error}")
        self._end_attempt()

    def _on_bad_certificate(self, error: object) -> None:
        self._fail_attempt(f"TLS certificate not trusted: {error}")
        self.client.abort()

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
        self.attempt_error = why
        self._note(why)

    def _end_attempt(self) -> None:
        if self.ended is not None and not self.ended.done():
            self.ended.set_result(None)

    async def _keep_alive(self) -> None:
        """Ping the server now and then; a ping without answer drops the link."""
        while True:
            await asyncio.sleep(self.settings.keepalive_interval_s)
            try:
                await self.client.plugin["xep_0199"].send_ping(
                    JID(self.client.boundjid.domain), timeout=self.settings.ping_timeout_s)
            except IqTimeout:
                self._note("server ping timed out")
                self.client.abort()
            except IqError:
                pass  # an error reply still proves the link is alive

    def request_stop(self, goodbye: str) -> None:
        self.drain()
        self.goodbye = goodbye
        self.stopping.set()

    async def _shutdown(self) -> None:
        """Leave the rooms, send unavailable presence, close the stream."""
        self._note("stopping")
        if self.online and self.client.transport is not None:
            self.rooms.leave_all(self.goodbye)
            self.client.send_presence(ptype="unavailable", pstatus=self.goodbye or None)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.client.disconnect(wait=2, reason="stop"), 5)
        else:
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
        return stanza

    def _on_message(self, stanza: Stanza) -> None:
        message = to_message(stanza, self.name, self.client.boundjid, self.rooms.view)
        if message is not None:
            self.deliver(message)

    def drain(self) -> None:
        """Take everything other threads queued and send it (or hold it) in order."""
        while True:
            try:
                target, text = self.outbox.get_nowait()
            except queue.Empty:
                return
            self.send_now(target, text)

    def send_now(self, target: str, text: str) -> None:
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
        self_ping_interval_s=settings.self_ping_interval_s,
        ping_timeout_s=settings.ping_timeout_s)
