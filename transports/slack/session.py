"""One Socket Mode connection and its life: connect, acknowledge, reconnect, shut down.
Layer: transport.

Everything here runs on the transport's own thread, inside its asyncio loop, with
slack_sdk's asyncio clients: ``AsyncWebClient`` for the Web API and the aiohttp
``SocketModeClient`` for the websocket. The ways in from other threads are
``SlackTransport.send`` (``univac.LoopHost`` hands what is queued to ``put`` on the
loop) and ``SlackTransport.stop`` (``request_stop``).

Connection life: ``auth.test`` tells who the bot is; ``apps.connections.open`` (with the
app-level token) gives a websocket URL; the SDK's client connects to it, pings it every
``ping_interval_s`` and connects again by itself when the link dies or Slack sends a
``disconnect`` envelope (refresh, warning). This session watches the client (``hello``
messages, ``is_connected``) to report the state; when getting a URL fails (bad token,
no network) it logs why (rate-limited) and tries again after a ``univac.Backoff``
delay (exponential, with jitter, from the minimum again once a connection lasted
``healthy_after_s``).

Every envelope that carries an ``envelope_id`` is acknowledged first, before anything
else is done with it, so Slack's 3-second deadline is met whatever the handlers do (they
run on the core's reactive threads anyway; ``deliver`` only queues).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from univac import Backoff, Deliver, FailureLog, TransportStatus, until_stopped

from .inbound import Me, Seen, to_message
from .outbound import RateLimitWait, Sender
from .support import Names, quiet_library_lines

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger("univac.transports.slack")
LINK_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError)
WATCH_EVERY_S = 0.5
MIN_DELAY_S = 0.01
"""The shortest reconnect delay, even with ``reconnect_min_s = 0``: never a busy loop."""


class Session:
    """The Web API client, the Socket Mode client and the sender."""

    def __init__(self, name: str, settings: Settings, deliver: Deliver,
                 publish: Callable[[TransportStatus], None],
                 loop: asyncio.AbstractEventLoop) -> None:
        self.name, self.settings, self.deliver = name, settings, deliver
        self.publish, self.loop = publish, loop
        quiet_library_lines()
        self.sender = Sender(name, settings.max_lines_per_reply, self._publish)
        self.http: aiohttp.ClientSession | None = None
        self.me = Me("", "")
        self.seen = Seen()
        self.socket: SocketModeClient | None = None
        self.state, self.detail = "starting", ""
        self.hellos = 0
        self.last_inbound: float | None = None
        self.failures = FailureLog(log, name)
        self.backoff = reconnect_backoff(settings)
        self.stopping = asyncio.Event()

    def _web(self, http: aiohttp.ClientSession) -> AsyncWebClient:
        """The Web API client, on one HTTP session (kept-alive connections)."""
        limit = RateLimitWait(self.sender.limited)
        return AsyncWebClient(token=self.settings.bot_token, base_url=self.settings.api_url,
                              session=http,
                              logger=logging.getLogger("univac.transports.slack.sdk"),
                              retry_handlers=[AsyncConnectionErrorRetryHandler(), limit])

    # -- life -------------------------------------------------------------------

    async def serve(self) -> None:
        """Connect and stay connected until ``request_stop``; then shut down cleanly. An
        error nothing here expects ends the session and is raised (the supervisor
        restarts the transport)."""
        self.http = aiohttp.ClientSession()
        self.web = self.sender.web = self._web(self.http)
        self.names = Names(self.web, self.settings.name_cache_s)
        tasks = [self.loop.create_task(self._connect_forever(), name=f"{self.name}: link"),
                 self.loop.create_task(self.sender.run(), name=f"{self.name}: sender")]
        broken = await until_stopped(self.stopping, tasks)
        if broken is None:
            await self._flush_replies()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._shutdown()
        if broken is not None:
            raise broken

    async def _connect_forever(self) -> None:
        while True:
            try:
                await self._connect()
                await self._watch()
            except SlackApiError as error:
                self.detail = f"Slack refused: {error.response.get('error', 'error')}"
            except LINK_ERRORS as error:
                self.detail = f"cannot reach Slack: {error or type(error).__name__}"
            await self._close_socket()
            delay = self.backoff.failed()
            self.failures.ended(self.detail, delay, dropped=False)
            self._set_state("disconnected", f"{self.detail}; reconnect in {delay:.1f}s")
            await asyncio.sleep(delay)

    async def _connect(self) -> None:
        self._set_state("connecting", self.detail)
        answer = await self.web.auth_test()
        self.me = Me(answer["user_id"], answer.get("user") or answer["user_id"])
        socket = SocketModeClient(
            app_token=self.settings.app_token, web_client=self.web,
            logger=logging.getLogger("univac.transports.slack.socket"),
            ping_interval=self.settings.ping_interval_s)
        socket.message_listeners.append(self._on_message)
        socket.socket_mode_request_listeners.append(self._on_request)
        self.socket = socket
        socket.wss_uri = await socket.issue_new_wss_url()  # raises on a bad app token
        await socket.connect()

    async def _watch(self) -> None:
        """Report the state while the SDK's client keeps the link up by itself."""
        while True:
            up = self.socket is not None and await self.socket.is_connected()
            if up and self.state != "connected" and self.hellos:
                log.info("%s: connected to Slack as %s (%s)%s", self.name, self.me.name,
                         self.me.user_id, self.failures.connected_note())
                self._set_state("connected", "connected (Socket Mode)")
                self.backoff.started()
            elif not up and self.state == "connected":
                self._set_state("connecting", "link lost; the SDK reconnects")
            await asyncio.sleep(WATCH_EVERY_S)

    async def _close_socket(self) -> None:
        socket, self.socket = self.socket, None
        if socket is not None:
            with contextlib.suppress(*LINK_ERRORS):
                await socket.close()

    # -- envelopes -------------------------------------------------------------

    async def _on_message(self, client: Any, message: dict, _raw: str | None) -> None:
        """Every websocket message: note ``hello`` (a new connection is ready)."""
        self.last_inbound = time.time()
        if message.get("type") == "hello":
            self.hellos += 1
            if self.hellos > 1:
                log.info("%s: new Socket Mode connection (%d since start)", self.name,
                         self.hellos)
            self._publish()
        elif message.get("type") == "disconnect":
            log.info("%s: Slack asks to reconnect (%s)", self.name, message.get("reason"))

    async def _on_request(self, client: Any, request: SocketModeRequest) -> None:
        """Acknowledge at once, then look at what came."""
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=request.envelope_id))
        if request.type != "events_api":
            return
        event = request.payload.get("event") or {}
        message = to_message(event, self.me, self.name, "")
        if message is None or not self.seen.first_time(event):
            return
        sender = await self.names.name(event["user"])
        self.deliver(message._replace(sender=sender))

    # -- stop ----------------------------------------------------------------------

    def request_stop(self, _goodbye: str) -> None:
        self.stopping.set()

    async def _flush_replies(self, limit_s: float = 5.0) -> None:
        deadline = self.loop.time() + limit_s
        while self.sender.held() and self.state == "connected" and self.loop.time() < deadline:
            await asyncio.sleep(0.05)

    async def _shutdown(self) -> None:
        await self._close_socket()
        held = self.sender.held()
        if held:
            log.warning("%s: %d replies never sent", self.name, held)
        if self.http is not None:
            await self.http.close()
        self._set_state("stopped", "")

    # -- messages ------------------------------------------------------------------

    def put(self, target: str, text: str) -> None:
        """Hand one reply other threads queued to the sender (``LoopHost`` calls it)."""
        self.sender.put(target, text)

    # -- status ----------------------------------------------------------------------

    def _set_state(self, state: str, detail: str) -> None:
        self.state, self.detail = state, detail
        self._publish()

    def _publish(self) -> None:
        limited = self.sender.rate_limited
        notes = (self.detail, f"rate-limited by Slack {limited} times" if limited else "")
        self.publish(TransportStatus(
            state=self.state, nick=self.me.name, detail="; ".join(n for n in notes if n),
            reconnects=max(self.hellos - 1, 0)))


def reconnect_backoff(settings: Settings) -> Backoff:
    """Delays between connection attempts; a connection that lasted ``healthy_after_s``
    starts the next ones from ``reconnect_min_s`` again."""
    return Backoff(max(settings.reconnect_min_s, MIN_DELAY_S), settings.reconnect_max_s,
                   healthy_after_s=settings.healthy_after_s)
