"""One matrix-nio client and its life: log in, sync, reconnect, shut down. Layer: transport.

Everything here runs on the transport's own thread, inside its asyncio loop. The ways
in from other threads are ``MatrixTransport.send`` (``univac.LoopHost`` hands what is
queued to ``put`` on the loop) and ``MatrixTransport.stop`` (``request_stop``).

Log in (``login``: the token, or the password with the kept device), then the sync
loop: the first sync of the process (since the kept sync token, if any) only brings
the rooms up to date: what it carries happened before the bot started and is never
acted on. Every later sync is a long poll of ``sync_timeout_s``; its timeline events go
through ``inbound`` to ``deliver``, except in rooms that the same sync shows the bot in
for the first time (their recent history); a timeline the server cut short
(``limited``) is completed from the room's history first. After a lost link, the sync
goes on from the last token: what was sent in the meantime was sent while the bot ran,
and is answered. The sync token is kept in ``memory`` at most every ``SAVE_EVERY_S``
and at shutdown. Any failure (homeserver unreachable, no answer in time, an error
answer) is logged (rate-limited), waited out with ``univac.Backoff`` (exponential, with
jitter, from the minimum again after a session that lasted ``healthy_after_s``), and
followed by a new sync from the same token; a refused token leads to a new login.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from nio import MessageDirection, RoomMessagesError, SyncError, SyncResponse

from univac import Backoff, Deliver, FailureLog, TransportStatus, until_stopped

from .client import LINK_ERRORS, build_client
from .inbound import to_message
from .login import LOGIN_REFUSED, Failed, bot_nick, log_in
from .memory import Memory
from .rooms import Rooms, describe
from .sender import Sender

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger("univac.transports.matrix")

SAVE_EVERY_S = 5.0
MIN_DELAY_S = 0.01
"""The shortest reconnect delay, even with ``reconnect_min_s = 0``: never a busy loop."""
CATCH_UP_FILTER = {"room": {"timeline": {"limit": 1}}, "presence": {"types": []}}
LIVE_LIMIT = 100
LIVE_FILTER = {"room": {"timeline": {"limit": LIVE_LIMIT}}, "presence": {"types": []},
               "account_data": {"types": []}}
"""Up to 100 new events per room and sync (the server's default is 10; Synapse sends
100 at most). More leave a gap (``limited``), which ``_gap`` fills from the history."""
GAP_MAX = 1000
"""Events fetched at most to fill one room's gap; older ones are skipped (and logged)."""


class Session:
    """The client, its rooms and its outgoing notices."""

    def __init__(self, name: str, settings: Settings, memory: Memory, deliver: Deliver,
                 publish: Callable[[TransportStatus], None],
                 loop: asyncio.AbstractEventLoop) -> None:
        self.name, self.settings, self.memory = name, settings, memory
        self.deliver, self.publish, self.loop = deliver, publish, loop
        self.client = build_client(settings)
        self.rooms = Rooms(name, self.client, settings.rooms, settings.invite_from,
                           self._backoff, self._rooms_changed)
        self.sender = Sender(name, self.client, self.rooms, settings.markdown,
                             settings.max_lines_per_reply, self._publish)
        self.bot_nick = settings.user_id[1:].partition(":")[0]
        self.state, self.detail = "starting", ""
        self.logged_in = False
        self.sessions = 0
        self.last_inbound: float | None = None
        self.saved_at = 0.0
        self.failures = FailureLog(log, name)
        self.stopping = asyncio.Event()
        self.goodbye = ""

    def _rooms_changed(self) -> None:
        self.sender.release()
        self._publish()

    def _backoff(self) -> Backoff:
        return reconnect_backoff(self.settings)

    # -- life -----------------------------------------------------------------

    async def serve(self) -> None:
        """Log in and sync until ``request_stop``; then shut down cleanly. An error
        nothing here expects ends the session and is raised (the supervisor restarts
        the transport)."""
        tasks = [self.loop.create_task(self._connect_forever(), name=f"{self.name}: sync"),
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
        backoff = self._backoff()
        while True:
            dropped = False
            try:
                await self._login()
                dropped = await self._sync_forever(backoff)
            except Failed as error:
                self.detail = str(error)
            except LINK_ERRORS as error:
                self.detail = link_error(error, self.settings.homeserver)
            self._offline()
            delay = backoff.failed()
            self.failures.ended(self.detail, delay, dropped=dropped)
            self._set_state("disconnected", f"{self.detail}; reconnect in {delay:.1f}s")
            await asyncio.sleep(delay)

    def _offline(self) -> None:
        self.sender.online.clear()
        self.rooms.cancel()

    async def _login(self) -> None:
        if self.logged_in:
            return
        self._set_state("connecting", self.detail)
        await log_in(self.client, self.settings, self.memory, self.name)
        self.logged_in = True
        self.bot_nick = await bot_nick(self.client, self.settings, self.bot_nick)

    async def _sync_forever(self, backoff: Backoff) -> bool:
        """Sync until a failure (raised). Returns only when a working session dropped."""
        if self.sessions == 0:  # the first sync of this process: catch up only
            await self._sync(self.memory.get("next_batch") or None, CATCH_UP_FILTER, 1,
                             live=False)
        else:  # reconnected: what came meanwhile was sent while the bot ran
            await self._sync(None, LIVE_FILTER, 1, live=True)
        self.sessions += 1
        backoff.started()
        log.info("%s: connected to %s as %s%s", self.name, self.settings.homeserver,
                 self.client.user_id, self.failures.connected_note())
        self.rooms.join_configured()
        self.sender.online.set()
        self._set_state("connected", "connected")
        timeout_ms = int(self.settings.sync_timeout_s * 1000)
        try:
            while True:
                await self._sync(None, LIVE_FILTER, timeout_ms, live=True)
        except (Failed, *LINK_ERRORS) as error:
            self.detail = str(error) if isinstance(error, Failed) else link_error(
                error, self.settings.homeserver)
            return True

    async def _sync(self, since: str | None, sync_filter: dict, timeout_ms: int,
                    live: bool) -> None:
        since = since or self.client.next_batch
        answer = await self.client.sync(timeout=timeout_ms, sync_filter=sync_filter,
                                        since=since)
        if isinstance(answer, SyncError):
            if answer.status_code in LOGIN_REFUSED:
                self.logged_in = False
                self.memory.set(access_token="")
            raise Failed(f"sync failed: {describe(answer)}")
        self.last_inbound = time.time()
        await self._take(answer, live, since)
        self._save_token(answer.next_batch)

    async def _take(self, answer: SyncResponse, live: bool, since: str | None) -> None:
        history = self.rooms.observe(answer)
        if not live:
            return
        for room_id, info in answer.rooms.join.items():
            if room_id in history:
                continue
            events = [event.source for event in info.timeline.events]
            if info.timeline.limited and since and info.timeline.prev_batch:
                events = await self._gap(room_id, info.timeline.prev_batch, since) + events
            view = self.rooms.view(room_id)
            for source in events:
                message = to_message(source, view, self.client.user_id, self.name,
                                     self.bot_nick)
                if message is not None:
                    self.deliver(message)

    async def _gap(self, room_id: str, start: str, since: str) -> list[dict]:
        """The events a limited timeline left out (after ``since``), oldest first."""
        found: list[dict] = []
        token = start
        while len(found) < GAP_MAX:
            page = await self.client.room_messages(room_id, start=token, end=since,
                                                   direction=MessageDirection.back,
                                                   limit=LIVE_LIMIT)
            if isinstance(page, RoomMessagesError) or not page.chunk:
                break
            found.extend(event.source for event in page.chunk)
            if not page.end or page.end == token:
                break
            token = page.end
        else:
            log.warning("%s: more than %d events in %s since the last sync; the older ones "
                        "were skipped", self.name, GAP_MAX, room_id)
        return found[::-1]

    def _save_token(self, token: str, force: bool = False) -> None:
        now = time.monotonic()
        if token and (force or now - self.saved_at >= SAVE_EVERY_S):
            self.saved_at = now
            self.memory.set(next_batch=token)

    # -- stop ------------------------------------------------------------------

    def request_stop(self, goodbye: str) -> None:
        self.goodbye = goodbye
        self.stopping.set()

    async def _flush_replies(self, limit_s: float = 5.0) -> None:
        """Give replies queued before the stop a moment to go out."""
        deadline = self.loop.time() + limit_s
        while self.sender.queue and self.sender.online.is_set() and \
                self.loop.time() < deadline:
            await asyncio.sleep(0.05)

    async def _shutdown(self) -> None:
        self.rooms.cancel()
        if self.client.next_batch:
            self._save_token(self.client.next_batch, force=True)
        if self.goodbye and self.sender.online.is_set():
            with contextlib.suppress(*LINK_ERRORS):
                await asyncio.wait_for(
                    self.client.set_presence("offline", self.goodbye), 3)
        held = self.sender.waiting()
        if held:
            log.warning("%s: %d replies never sent (not connected)", self.name, held)
        await self.client.close()
        self._set_state("stopped", "")

    # -- messages ----------------------------------------------------------------

    def put(self, target: str, text: str) -> None:
        """Hand one reply other threads queued to the sender (``LoopHost`` calls it)."""
        self.sender.put(target, text)

    # -- status ------------------------------------------------------------------

    def _set_state(self, state: str, detail: str) -> None:
        self.state, self.detail = state, detail
        self._publish()

    def _publish(self) -> None:
        online = self.state == "connected"
        notes = (self.detail, self.rooms.problems(), self.sender.limit_note)
        self.publish(TransportStatus(
            state=self.state, nick=self.bot_nick,
            targets=self.rooms.labels() if online else (),
            detail="; ".join(n for n in notes if n),
            reconnects=max(self.sessions - 1, 0)))


def reconnect_backoff(settings: Settings) -> Backoff:
    """Reconnect (and room join) delays; a session up for ``healthy_after_s`` starts the
    next ones from ``reconnect_min_s`` again."""
    return Backoff(max(settings.reconnect_min_s, MIN_DELAY_S), settings.reconnect_max_s,
                   healthy_after_s=settings.healthy_after_s)


def link_error(error: BaseException, homeserver: str) -> str:
    """A failed request as a status line."""
    if isinstance(error, asyncio.TimeoutError):
        return f"no answer from {homeserver} in time"
    return f"cannot reach {homeserver}: {error or type(error).__name__}"
