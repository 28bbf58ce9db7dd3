"""Helpers of the Slack transport: failure log, user names, quiet SDK logs.
Layer: transport.

``FailureLog`` is pure. ``Names`` runs on the transport's own thread,
in its asyncio loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient


class FailureLog:
    """Connection trouble for the log, rate-limited: a failure like the last one logged
    (same text) within ``every`` seconds is counted, and the next line says how many."""

    def __init__(self, log: logging.Logger, name: str, every: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.name, self.every, self.clock = log, name, every, clock
        self.last = ""
        self.logged_at = float("-inf")
        self.unlogged = 0
        self.failures = 0

    def failed(self, reason: str, retry_in: float, *, dropped: bool) -> None:
        self.failures += 0 if dropped else 1
        what = f"link lost: {reason}" if dropped else reason
        now = self.clock()
        if what == self.last and now - self.logged_at < self.every:
            self.unlogged += 1
            return
        more = f" ({self.unlogged} more since the last report)" if self.unlogged else ""
        self.log.warning("%s: %s%s; retrying in %.1f s", self.name, what, more, retry_in)
        self.last, self.logged_at, self.unlogged = what, now, 0

    def connected(self) -> int:
        failures, self.failures = self.failures, 0
        self.last = ""
        return failures


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


async def until_stopped(stopping: asyncio.Event,
                        tasks: list[asyncio.Task[None]]) -> BaseException | None:
    """Wait for ``stopping``, or for one of ``tasks`` to end: return its exception."""
    waiter = asyncio.ensure_future(stopping.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    ended = [task for task in tasks if task in done]
    return next((t.exception() or RuntimeError(f"{t.get_name()} ended") for t in ended), None)
