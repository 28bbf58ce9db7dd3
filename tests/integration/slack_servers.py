"""A local stand-in for Slack (Web API + Socket Mode) for the Slack transport tests.
Layer: tests.

No Slack server can run here, so ``FakeSlack`` plays the parts of Slack the transport
uses, after Slack's documented contract (api.slack.com/apis/socket-mode, the
``apps.connections.open``, ``auth.test``, ``users.info`` and ``chat.postMessage``
method pages, and the rate-limit page), and keeps state so that tests assert outcomes:

- ``POST /api/apps.connections.open`` with the app-level token (``xapp-``) answers a
  one-time websocket URL; a bad token: ``{"ok": false, "error": "invalid_auth"}``;
- the websocket at that URL: ``hello`` first; then the event envelopes a test pushes
  (``events_api``, ``envelope_id``, ``payload.event``); every text frame the app sends
  back is recorded as an acknowledgement (``{"envelope_id": ...}``) with its time;
  ``disconnect`` sends a ``disconnect`` envelope (``refresh_requested``) and closes that
  socket a moment later, as Slack does before it recycles a connection;
- Web API methods with the bot token (``xoxb-``): ``auth.test``, ``users.info``,
  ``chat.postMessage`` (``channel_not_found``, ``not_in_channel``, ``no_text``; the
  posted messages are kept per channel and thread); ``limit_posts(n, retry_after)``
  makes the next ``n`` posts answer HTTP 429 with a ``Retry-After`` header.

The fixture ``slack`` starts one per test on a free port of 127.0.0.1 (it starts in
about a millisecond) in a thread with its own loop; ``slack_bot`` starts the transport
under test against it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from tests.waiting import wait_for

APP_TOKEN = "xapp-1-A0TEST-1-secret"
BOT_TOKEN = "xoxb-1-bot-secret"
TEAM = "T0TEST"
BOT_USER = "U0BOT"
BOT_NAME = "univac"
USERS = {"U0ALICE": "alice", "U0BOB": "bob", BOT_USER: BOT_NAME}
CHANNELS = {"C0OPS": "channel", "C0DEV": "channel", "D0ALICE": "im", "C0NOTIN": "channel"}
MEMBER_OF = {"C0OPS", "C0DEV", "D0ALICE"}


@dataclass
class Posted:
    """A message the app posted (``chat.postMessage``)."""

    channel: str
    text: str
    thread_ts: str
    ts: str
    at: float


@dataclass
class FakeSlack:
    """See the module docstring."""

    port: int = 0
    opens: int = 0
    posts: list[Posted] = field(default_factory=list)
    acks: dict[str, float] = field(default_factory=dict)
    sent: dict[str, float] = field(default_factory=dict)
    """Envelope id -> when it was pushed."""
    calls: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    rejected_posts: list[float] = field(default_factory=list)
    limited: int = 0
    retry_after: int = 1
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _ts: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # -- what tests do --------------------------------------------------------

    def start(self) -> FakeSlack:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), daemon=True,
                                       name="fake-slack")
        self.thread.start()
        assert ready.wait(10), "the Slack fake did not start"
        return self

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def connected(self) -> int:
        """How many app websockets are open right now."""
        return sum(1 for ws in self.sockets if not ws.closed)

    def user_says(self, text: str, channel: str = "C0OPS", user: str = "U0ALICE",
                  thread_ts: str = "", **extra: Any) -> str:
        """Push a ``message`` event as Slack does for a user's new message; its ts
        (``last_event`` is the event itself)."""
        ts = self.next_ts()
        event = {"type": "message", "channel": channel, "user": user, "text": text,
                 "ts": ts, "event_ts": ts, "team": TEAM,
                 "channel_type": CHANNELS.get(channel, "channel"), **extra}
        if thread_ts:
            event["thread_ts"] = thread_ts
        self.last_event = event
        self.push_event(event)
        return ts

    def mention(self, text: str, channel: str = "C0OPS", user: str = "U0ALICE") -> str:
        """A message mentioning the bot: Slack sends it as ``message`` and as
        ``app_mention`` (to an app subscribed to both), the same ts in each."""
        ts = self.user_says(text, channel, user)
        self.push_event({"type": "app_mention", "channel": channel, "user": user,
                         "text": text, "ts": ts, "event_ts": ts, "team": TEAM})
        return ts

    def push_event(self, event: dict[str, Any], retry_attempt: int = 0,
                   envelope_id: str = "") -> str:
        """Push one ``events_api`` envelope to the app's newest socket; its id."""
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id, "type": "events_api",
            "accepts_response_payload": False, "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else "",
            "payload": {"token": "verification", "team_id": TEAM, "api_app_id": "A0TEST",
                        "type": "event_callback", "event_id": f"Ev{envelope_id[:8]}",
                        "event_time": int(time.time()), "event": event}}
        self.sent[envelope_id] = time.monotonic()
        self._run(self._newest().send_json(envelope))
        return envelope_id

    def disconnect(self, reason: str = "refresh_requested", close_after_s: float = 0.5) -> None:
        """Ask the app to reconnect, then close the old socket as Slack does."""
        socket = self._newest()
        self._run(socket.send_json({"type": "disconnect", "reason": reason,
                                    "debug_info": {"host": "fake-applink"}}))

        async def close_later() -> None:
            await asyncio.sleep(close_after_s)
            await socket.close()
        asyncio.run_coroutine_threadsafe(close_later(), self.loop)

    def limit_posts(self, count: int, retry_after: int = 1) -> None:
        """The next ``count`` chat.postMessage calls answer 429 with ``Retry-After``."""
        self.limited, self.retry_after = count, retry_after

    def messages(self, channel: str, thread_ts: str = "") -> list[str]:
        return [p.text for p in self.posts if p.channel == channel and p.thread_ts == thread_ts]

    def wait_posts(self, count: int, timeout: float = 10.0) -> list[Posted]:
        wait_for(lambda: len(self.posts) >= count, timeout, f"{count} posted messages")
        return list(self.posts)

    def next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def stop(self) -> None:
        self._run(self.runner.cleanup())
        self._run(self._cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def _cancel_the_rest(self) -> None:
        """No task of the fake's may outlive its loop (asyncio would log it at GC)."""
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the server --------------------------------------------------------------

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._setup())
        ready.set()
        self.loop.run_forever()
        self.loop.close()

    async def _setup(self) -> None:
        app = web.Application()
        app.router.add_post("/api/apps.connections.open", self._connections_open)
        app.router.add_post("/api/auth.test", self._auth_test)
        app.router.add_route("*", "/api/users.info", self._users_info)
        app.router.add_post("/api/chat.postMessage", self._post_message)
        app.router.add_get("/link/", self._link)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def _newest(self) -> web.WebSocketResponse:
        live = [ws for ws in self.sockets if not ws.closed]
        assert live, "the app has no open Socket Mode connection"
        return live[-1]

    @staticmethod
    def _token(request: web.Request) -> str:
        return request.headers.get("Authorization", "").removeprefix("Bearer ")

    @staticmethod
    async def _arguments(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return await request.json()
        if request.method == "POST":
            return dict(await request.post()) | dict(request.query)
        return dict(request.query)

    async def _connections_open(self, request: web.Request) -> web.Response:
        self.calls["apps.connections.open"] += 1
        if self._token(request) != APP_TOKEN:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        self.opens += 1
        ticket = uuid.uuid4()
        return web.json_response(
            {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}"})

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": self.connected(),
                            "connection_info": {"app_id": "A0TEST"},
                            "debug_info": {"host": "fake-applink",
                                           "approximate_connection_time": 3600}})
        async for frame in ws:
            if frame.type == WSMsgType.TEXT:
                envelope_id = json.loads(frame.data).get("envelope_id", "")
                self.acks.setdefault(envelope_id, time.monotonic())
        return ws

    def _web_call(self, name: str, request: web.Request) -> web.Response | None:
        self.calls[name] += 1
        if self._token(request) != BOT_TOKEN:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return None

    async def _auth_test(self, request: web.Request) -> web.Response:
        refused = self._web_call("auth.test", request)
        return refused or web.json_response({
            "ok": True, "url": "https://test.slack.example/", "team": "Test", "user": BOT_NAME,
            "team_id": TEAM, "user_id": BOT_USER, "bot_id": "B0BOT",
            "is_enterprise_install": False})

    async def _users_info(self, request: web.Request) -> web.Response:
        refused = self._web_call("users.info", request)
        if refused:
            return refused
        user = (await self._arguments(request)).get("user", "")
        if user not in USERS:
            return web.json_response({"ok": False, "error": "user_not_found"})
        return web.json_response({"ok": True, "user": {
            "id": user, "team_id": TEAM, "name": USERS[user], "is_bot": user == BOT_USER,
            "profile": {"display_name": USERS[user].title(), "real_name": USERS[user]}}})

    async def _post_message(self, request: web.Request) -> web.Response:
        refused = self._web_call("chat.postMessage", request)
        if refused:
            return refused
        if self.limited > 0:
            self.limited -= 1
            self.rejected_posts.append(time.monotonic())
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(self.retry_after)})
        body = await self._arguments(request)
        channel, text = body.get("channel", ""), body.get("text") or ""
        error = ("channel_not_found" if channel not in CHANNELS else
                 "not_in_channel" if channel not in MEMBER_OF else
                 "no_text" if not text else "")
        if error:
            return web.json_response({"ok": False, "error": error})
        ts = self.next_ts()
        thread = body.get("thread_ts") or ""
        self.posts.append(Posted(channel, text, thread, ts, time.monotonic()))
        return web.json_response({"ok": True, "channel": channel, "ts": ts, "message": {
            "type": "message", "text": text, "user": BOT_USER, "bot_id": "B0BOT", "ts": ts,
            **({"thread_ts": thread} if thread else {})}})


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def slack_bot(slack: FakeSlack) -> Iterator[Callable[..., Any]]:
    """A factory: ``slack_bot(**settings)`` starts the Slack transport against ``slack``;
    ``deliver=`` replaces the echoing test deliver."""
    from tests.integration.xmpp_servers import RunningBot  # here: a fixture module itself
    from univac.transports import slack as transport

    bots: list[Any] = []

    def make(name: str = "slack", deliver: Callable | None = None, **overrides: Any) -> Any:
        values = {"app_token": APP_TOKEN, "bot_token": BOT_TOKEN, "api_url": slack.api_url,
                  "reconnect_min_s": 0.1, "reconnect_max_s": 1.0, **overrides}
        bot = RunningBot(transport.create(name, transport.Settings(**values)), deliver)
        bots.append(bot.start())
        return bot

    yield make
    for bot in bots:
        if bot.thread.is_alive():
            bot.stop()
