"""Reply text to Slack messages, and the sender. Layer: transport.

``escape`` and ``pieces`` are pure. Slack reads ``&``, ``<`` and ``>`` in a message's
text as markup (``<@U1>`` mentions, ``<!channel>``, links), so they are sent as
``&amp;``, ``&lt;``, ``&gt;``: a reply can never ping a channel or a user by accident.
Text is cut to ``max_lines_per_reply`` and split at line ends into messages of at most
``MAX_CHARS`` characters (Slack truncates longer ones). A target ``channel/ts`` replies in
that thread (``thread_ts``).

``Sender`` runs on the transport's own thread, in its asyncio loop: one task posts one
message at a time with ``chat.postMessage``, so replies keep their order. A 429 answer
is retried by slack_sdk after the ``Retry-After`` seconds Slack names
(``RateLimitWait``, a retry handler of the SDK that also logs and counts); a link
failure keeps the message and tries again after a pause.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from .inbound import THREAD_SEPARATOR

log = logging.getLogger("univac.transports.slack")

MAX_CHARS = 4000
MAX_HELD = 1000
RATE_LIMIT_RETRIES = 10


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def split_target(target: str) -> tuple[str, str]:
    """``(channel, thread ts)``; the ts is ``""`` outside threads."""
    channel, _, thread = target.partition(THREAD_SEPARATOR)
    return channel, thread


def pieces(text: str, max_lines: int) -> list[str]:
    """``text`` cut, escaped and split into messages of at most ``MAX_CHARS``."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").split("\n")
    if max_lines > 0 and len(lines) > max_lines:
        kept = lines[: max(max_lines - 1, 1)]
        lines = [*kept, f"[… {len(lines) - len(kept)} more lines not shown]"]
    out: list[str] = []
    current = ""
    for line in (escape(line) for line in lines):
        while len(line) > MAX_CHARS:
            cut = _safe_cut(line, MAX_CHARS)
            out, current = _flush(out, current), ""
            out.append(line[:cut])
            line = line[cut:]
        joined = f"{current}\n{line}" if current else line
        if len(joined) > MAX_CHARS:
            out, joined = _flush(out, current), line
        current = joined
    out = _flush(out, current)
    return [piece for piece in out if piece.strip()]


def _flush(out: list[str], current: str) -> list[str]:
    return [*out, current] if current else out


def _safe_cut(line: str, limit: int) -> int:
    """A cut at ``limit`` or before, never inside an ``&amp;``-style entity."""
    amp = line.rfind("&", max(limit - 4, 0), limit)
    return amp if amp > 0 and ";" not in line[amp:limit] else limit


class RateLimitWait(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 retry (waits ``Retry-After``), which also tells the sender."""

    def __init__(self, on_limited: Callable[[float], None]) -> None:
        super().__init__(max_retry_count=RATE_LIMIT_RETRIES)
        self.on_limited = on_limited

    async def prepare_for_next_attempt_async(self, **kwargs: Any) -> None:
        response = kwargs.get("response")
        headers = {k.lower(): v for k, v in (response.headers if response else {}).items()}
        wait = headers.get("retry-after", ["1"])[0]
        self.on_limited(float(wait) if str(wait).isdigit() else 1.0)
        await super().prepare_for_next_attempt_async(**kwargs)


class Sender:
    """Queue and post messages in order; see the module docstring."""

    def __init__(self, name: str, max_lines: int, on_change: Callable[[], None],
                 retry_s: float = 1.0) -> None:
        self.name, self.max_lines = name, max_lines
        self.web: AsyncWebClient | None = None
        """Set by the session once its loop runs; ``run`` is started after that."""
        self.on_change, self.retry_s = on_change, retry_s
        self.queue: deque[tuple[str, str, str]] = deque()
        self.wake = asyncio.Event()
        self.rate_limited = 0
        self.limited_logged_at = float("-inf")

    def put(self, target: str, text: str) -> None:
        channel, thread = split_target(target)
        for piece in pieces(text, self.max_lines):
            if len(self.queue) >= MAX_HELD:
                self.queue.popleft()
                log.warning("%s: too many replies waiting; dropped the oldest", self.name)
            self.queue.append((channel, thread, piece))
        self.wake.set()

    def held(self) -> int:
        return len(self.queue)

    async def run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.queue:
                if await self._post(*self.queue[0]):
                    self.queue.popleft()
                else:
                    await asyncio.sleep(self.retry_s)

    async def _post(self, channel: str, thread: str, text: str) -> bool:
        """Post one message; False to try it again (the link failed)."""
        assert self.web is not None
        try:
            await self.web.chat_postMessage(channel=channel, text=text,
                                            thread_ts=thread or None)
        except SlackApiError as error:
            log.warning("%s: cannot post to %s: %s", self.name, channel,
                        error.response.get("error", error.response.status_code))
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            log.debug("%s: posting to %s failed (%s); trying again", self.name, channel, error)
            return False
        return True

    def limited(self, wait_s: float) -> None:
        """Slack answered 429: count it, log it (once a minute at most)."""
        self.rate_limited += 1
        self.on_change()
        now = time.monotonic()
        if now - self.limited_logged_at >= 60:
            self.limited_logged_at = now
            log.warning("%s: Slack limits the bot's messages (HTTP 429); sending again in "
                        "%.0f s as its Retry-After asks", self.name, wait_s)
