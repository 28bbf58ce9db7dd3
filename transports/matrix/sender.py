"""The outgoing notices of one Matrix session, in order. Layer: transport.

Runs on the transport's own thread, in its asyncio loop: ``put`` is called by the
session's ``put`` (the hand-over from other threads), ``run`` is one task that sends
one notice at a time, so replies keep the order they were queued in. While the link is
down (``online`` cleared by the session) notices wait, at most ``MAX_HELD``; notices for
a configured room wait until a sync shows the bot in it (``release``); a notice
whose request failed on the way is sent again with the same transaction id, which the
homeserver uses to drop a duplicate. A rate-limit answer (``M_LIMIT_EXCEEDED``) is
retried by nio after the delay the server names; the sender only counts and logs it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nio import AsyncClient, RoomSendError

from .client import LINK_ERRORS
from .outbound import contents, split_target
from .rooms import Rooms, describe

log = logging.getLogger("univac.transports.matrix")

MAX_HELD = 1000


@dataclass(frozen=True)
class Notice:
    seq: int
    """Order of queueing: held notices go back into the queue in this order."""
    target: str
    content: dict[str, Any]
    txn_id: str


class Sender:
    """Queue and send notices; see the module docstring."""

    def __init__(self, name: str, client: AsyncClient, rooms: Rooms, markdown: bool,
                 max_lines: int, on_change: Callable[[], None]) -> None:
        self.name, self.client, self.rooms = name, client, rooms
        self.markdown, self.max_lines = markdown, max_lines
        self.on_change = on_change
        self.queue: deque[Notice] = deque()
        self.numbers = itertools.count()
        self.held: dict[str, list[Notice]] = {}
        """Notices for configured rooms not joined yet, by room (alias or id)."""
        self.wake = asyncio.Event()
        self.online = asyncio.Event()
        self.rate_limited = 0
        self.limited_logged_at = float("-inf")
        self.limit_note = ""
        client.add_response_callback(self._on_error, RoomSendError)

    def put(self, target: str, text: str) -> None:
        _, thread = split_target(target)
        for body in contents(text, thread, self.markdown, self.max_lines):
            if self.waiting() >= MAX_HELD:
                if self.queue:
                    self.queue.popleft()
                else:
                    self._drop_oldest_held()
                log.warning("%s: too many replies waiting; dropped the oldest", self.name)
            self.queue.append(Notice(next(self.numbers), target, body, uuid.uuid4().hex))
        self.wake.set()

    def waiting(self) -> int:
        return len(self.queue) + sum(len(notices) for notices in self.held.values())

    def release(self) -> None:
        """Put the notices for rooms joined meanwhile back in front, oldest first."""
        ready = [self.held.pop(r) for r in list(self.held) if not self.rooms.waiting_for(r)]
        if ready:
            notices = sorted((n for group in ready for n in group), key=lambda n: n.seq)
            self.queue.extendleft(reversed(notices))
            self.wake.set()

    def _drop_oldest_held(self) -> None:
        room = next(iter(self.held))
        self.held[room].pop(0)
        if not self.held[room]:
            del self.held[room]

    async def run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.queue:
                await self.online.wait()
                if await self._send(self.queue[0]):
                    self.queue.popleft()

    async def _send(self, notice: Notice) -> bool:
        """Send one notice; False to try it again (the link failed on the way)."""
        room, _ = split_target(notice.target)
        if self.rooms.waiting_for(room):
            self.held.setdefault(room, []).append(notice)
            return True
        try:
            room_id = await self.rooms.room_id(room)
            if not room_id:
                return True
            response = await self.client.room_send(room_id, "m.room.message",
                                                   notice.content, tx_id=notice.txn_id)
        except LINK_ERRORS:
            self.online.clear()  # the session's sync notices it too and reconnects
            return False
        if isinstance(response, RoomSendError):
            log.warning("%s: cannot send to %s: %s", self.name, room, describe(response))
        return True

    async def _on_error(self, response: RoomSendError) -> None:
        """Called by nio for every error answer, before it waits out a rate limit."""
        if response.status_code != "M_LIMIT_EXCEEDED":
            return
        self.rate_limited += 1
        wait_s = (response.retry_after_ms or 5000) / 1000
        self.limit_note = f"rate-limited by the homeserver {self.rate_limited} times"
        self.on_change()
        now = time.monotonic()
        if now - self.limited_logged_at >= 60:
            self.limited_logged_at = now
            log.warning("%s: the homeserver limits the bot's messages (M_LIMIT_EXCEEDED); "
                        "sending again in %.1f s as it asks", self.name, wait_s)
