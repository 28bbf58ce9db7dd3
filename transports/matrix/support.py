"""Pure helpers of the Matrix transport: rate-limited failure log, reply cut, tasks.
Layer: transport.

Nothing here touches matrix-nio or a socket; the session and the sender, on the
transport's own thread, are the callers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any


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
        """An attempt failed; ``dropped`` when a working session was lost."""
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
        """A session works: return the failed attempts before it, and count from 0."""
        failures, self.failures = self.failures, 0
        self.last = ""
        return failures


def background(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None], what: str,
               log: logging.Logger) -> asyncio.Task[None]:
    """Run ``coro`` as a task on ``loop``; an exception ending it is logged."""
    task = loop.create_task(coro, name=what)

    def ended(done: asyncio.Task[None]) -> None:
        if not done.cancelled() and done.exception() is not None:
            log.error("%s failed", what, exc_info=done.exception())
    task.add_done_callback(ended)
    return task


async def until_stopped(stopping: asyncio.Event,
                        tasks: list[asyncio.Task[None]]) -> BaseException | None:
    """Wait for ``stopping``, or for one of ``tasks`` to end: return its exception."""
    waiter = asyncio.ensure_future(stopping.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    ended = [task for task in tasks if task in done]
    return next((t.exception() or RuntimeError(f"{t.get_name()} ended") for t in ended), None)


def cut_lines(text: str, max_lines: int) -> str:
    """Cut ``text`` to ``max_lines`` lines (0: no limit), the last saying what was cut."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").split("\n")
    if max_lines <= 0 or len(lines) <= max_lines:
        return "\n".join(lines)
    kept = lines[: max(max_lines - 1, 1)]
    return "\n".join([*kept, f"[… {len(lines) - len(kept)} more lines not shown]"])
