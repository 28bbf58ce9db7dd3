"""Pure helpers of the XMPP transport: room specs, backoff, failure log, reply text.
Layer: transport.

Nothing here touches slixmpp or a socket. ``background`` must be called on the thread
of the loop it is given; the rest from any thread. The session and the rooms, on the
transport's own thread, are the only callers in practice.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

# Characters XML 1.0 cannot carry: a reply containing one would break the stream.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class RoomSpec:
    """One room from the config: ``room@service`` or ``room@service/nick``."""

    jid: str
    nick: str
    password: str | None = None


def parse_rooms(
    rooms: tuple[str, ...], passwords: tuple[str, ...], default_nick: str
) -> tuple[RoomSpec, ...]:
    """Turn the ``rooms`` and ``room_passwords`` settings into room specs.

    Raises ``ValueError`` (reported by the config loader with file and key) for a
    malformed entry or a password for an unknown room.
    """
    secrets = _parse_passwords(passwords)
    specs = []
    for entry in rooms:
        bare, _, nick = entry.strip().partition("/")
        bare = bare.lower()
        if not re.fullmatch(r"[^@/\s]+@[^@/\s]+", bare):
            raise ValueError(f"rooms: {entry!r} is not room@service or room@service/nick")
        specs.append(RoomSpec(bare, nick or default_nick, secrets.pop(bare, None)))
    if secrets:
        raise ValueError(f"room_passwords: no such room in rooms: {', '.join(sorted(secrets))}")
    return tuple(specs)


def _parse_passwords(passwords: tuple[str, ...]) -> dict[str, str]:
    result = {}
    for entry in passwords:
        room, sep, secret = entry.partition("=")
        if not sep or not room.strip():
            raise ValueError("room_passwords: entries are room@service=password")
        result[room.strip().lower()] = secret
    return result


def check_plaintext(tls: str, host: str, jid: str) -> None:
    """Refuse ``tls = "plaintext"`` unless the server address is a loopback address."""
    if tls != "plaintext":
        return
    address = host or jid.partition("@")[2].partition("/")[0]
    if address == "localhost":
        return
    try:
        if ipaddress.ip_address(address).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f'tls = "plaintext" is allowed on loopback only, not {address!r}')


class Backoff:
    """Exponential backoff with jitter: delays grow from ``low`` to ``high`` seconds."""

    def __init__(self, low: float, high: float) -> None:
        self.low = max(low, 0.01)
        self.high = max(high, self.low)
        self.failures = 0

    def next(self) -> float:
        """Return the next delay (half fixed, half random) and count one more failure."""
        ceiling = min(self.high, self.low * 2 ** min(self.failures, 30))
        self.failures += 1
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.failures = 0


def background(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None], what: str,
               log: logging.Logger) -> asyncio.Task[None]:
    """Run ``coro`` as a task on ``loop``; an exception ending it is logged.

    The caller keeps the task and cancels it when done with it, so no task is left
    pending or with an exception nobody retrieved.
    """
    task = loop.create_task(coro, name=what)

    def ended(done: asyncio.Task[None]) -> None:
        if not done.cancelled() and done.exception() is not None:
            log.error("%s failed", what, exc_info=done.exception())
    task.add_done_callback(ended)
    return task


class FailureLog:
    """Connection trouble for the log, rate-limited.

    Each ended attempt is a WARNING, unless it ended like the previous logged one
    (same kind, same reason) less than ``every`` seconds ago: then it is only counted,
    and the next WARNING says how many were not logged.
    """

    def __init__(self, log: logging.Logger, name: str, every: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.name, self.every, self.clock = log, name, every, clock
        self.last = ""
        self.logged_at = float("-inf")
        self.unlogged = 0
        self.failures = 0

    def ended(self, reason: str, retry_in: float, *, dropped: bool) -> None:
        """An attempt ended: ``dropped`` when its session was up and the link was lost."""
        if not dropped:
            self.failures += 1
        what = f"link lost: {reason}" if dropped else reason
        now = self.clock()
        if what == self.last and now - self.logged_at < self.every:
            self.unlogged += 1
            return
        more = f" ({self.unlogged} more since the last report)" if self.unlogged else ""
        self.log.warning("%s: %s%s; reconnecting in %.1f s", self.name, what, more, retry_in)
        self.last, self.logged_at, self.unlogged = what, now, 0

    def connected(self) -> int:
        """A session is up: return the failed attempts before it, and count from 0."""
        failures, self.failures = self.failures, 0
        return failures


def reply_text(text: str, max_lines: int) -> str:
    """Make ``text`` safe for XML and cut it to ``max_lines`` lines with a continuation note.

    ``max_lines`` 0 means no limit. Trailing blank lines are dropped first.
    """
    text = _XML_INVALID.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = text.rstrip("\n").split("\n")
    if max_lines <= 0 or len(lines) <= max_lines:
        return "\n".join(lines)
    kept = lines[: max(max_lines - 1, 1)]
    return "\n".join([*kept, f"[… {len(lines) - len(kept)} more lines not shown]"])
