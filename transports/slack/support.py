"""Helpers of the Slack transport: user names, quiet SDK logs. Layer: transport.

``Names`` runs on the transport's own thread, in its asyncio loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient


class Names:
    """User id to name (``users.info``), remembered for ``keep_s`` seconds. Concurrent
    lookups of one user share one request, so that user's messages keep their order."""

    def __init__(self, web: AsyncWebClient, keep_s: float) -> None:
        self.web, self.keep_s = web, keep_s
        self.known: dict[str, tuple[float, asyncio.Future[str]]] = {}

    async def name(self, user_id: str) -> str:
        now = time.monotonic()
        entry = self.known.get(user_id)
        if entry is None or now - entry[0] > self.keep_s:
            future = asyncio.get_running_loop().create_task(self._look_up(user_id))
            entry = self.known[user_id] = (now, future)
        return await asyncio.shield(entry[1])

    async def _look_up(self, user_id: str) -> str:
        try:
            answer = await self.web.users_info(user=user_id)
        except (TimeoutError, SlackApiError, aiohttp.ClientError, OSError):
            self.known.pop(user_id, None)  # ask again next time
            return user_id
        user = answer.get("user") or {}
        return str(user.get("name") or user_id)


class LibraryEcho(logging.Filter):
    """Keeps the SDK's per-attempt lines out of the bot's log (the session reports the
    connection itself, rate-limited), unless the log level is DEBUG: INFO and below
    are dropped, tracebacks are cut off, and a line that starts like one let through
    less than ``every`` seconds ago is dropped (the SDK retries every few seconds while
    Slack is unreachable, and says so each time)."""

    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.every, self.clock = every, clock
        self.shown: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            return True
        if record.levelno <= logging.INFO:
            return False
        record.exc_info, record.exc_text = None, None
        key, now = str(record.msg)[:30], self.clock()
        if now - self.shown.get(key, float("-inf")) < self.every:
            return False
        self.shown[key] = now
        return True


def quiet_library_lines() -> None:
    """Put ``LibraryEcho`` on the SDK loggers this transport hands to slack_sdk, once."""
    for name in ("univac.transports.slack.socket", "univac.transports.slack.sdk"):
        library = logging.getLogger(name)
        if not any(isinstance(f, LibraryEcho) for f in library.filters):
            library.addFilter(LibraryEcho())


