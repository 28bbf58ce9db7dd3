"""Outgoing IRC lines: a token bucket and fair per-target queues.

Layer: transport (IRC adapter); stdlib only. Only the transport's I/O thread touches
these objects (other threads hand text over through the transport's inbox). Urgent
lines (PONG, QUIT, registration) skip the bucket; everything else takes a token, and
targets take turns so one flooding conversation cannot starve another.
"""

from __future__ import annotations

import logging
from collections import deque

log = logging.getLogger("univac.transports.irc")


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; rate 0 means unlimited."""

    def __init__(self, burst: int, rate: float, now: float) -> None:
        self.burst = max(1, burst)
        self.rate = rate
        self.tokens = float(self.burst)
        self.stamp = now

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.stamp)
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
        self.stamp = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        if self.rate <= 0:
            return True
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait(self, now: float) -> float:
        """Seconds until the next token (0 when one is ready)."""
        if self.rate <= 0:
            return 0.0
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


class OutQueue:
    """Urgent lines first; then one line per target in turn, while tokens last."""

    def __init__(self, bucket: TokenBucket, per_target: int, lines_per_reply: int) -> None:
        self.bucket = bucket
        self.per_target = max(1, per_target)
        self.lines_per_reply = lines_per_reply
        self.urgent: deque[str] = deque()
        self.queues: dict[str, deque[str]] = {}
        self.turns: deque[str] = deque()
        self.more: dict[str, list[str]] = {}
        self.shed = 0

    def push_urgent(self, line: str) -> None:
        """Queue a line that bypasses flood control (PONG, QUIT, registration)."""
        self.urgent.append(line)

    def push(self, key: str, lines: list[str]) -> None:
        """Queue lines for one target, keeping at most ``per_target`` waiting."""
        if not lines:
            return
        queue = self.queues.get(key)
        if queue is None:
            queue = self.queues[key] = deque()
            self.turns.append(key)
        for line in lines:
            if len(queue) >= self.per_target:
                queue.popleft()
                self.shed += 1
                log.warning("irc: output queue for %s full, dropped a line", key)
            queue.append(line)

    def push_reply(self, key: str, lines: list[str], more_hint: str) -> None:
        """Queue a reply, holding back lines past the per-reply cap for ``more``."""
        cap = self.lines_per_reply
        if cap <= 0 or len(lines) <= cap:
            self.push(key, lines)
            return
        self.more[key] = lines[cap:]
        self.push(key, [*lines[:cap], more_hint.format(n=len(lines) - cap)])

    def take_more(self, key: str) -> list[str]:
        """Pop the held-back lines for ``key`` (empty when there are none)."""
        return self.more.pop(key, [])

    def pop(self, now: float, normal_ok: bool) -> str | None:
        """The next line allowed on the wire now, or ``None``."""
        if self.urgent:
            return self.urgent.popleft()
        if not normal_ok or not self.turns or not self.bucket.take(now):
            return None
        key = self.turns.popleft()
        queue = self.queues[key]
        line = queue.popleft()
        if queue:
            self.turns.append(key)
        else:
            del self.queues[key]
        return line

    def pending(self) -> bool:
        """Whether bucketed lines are waiting."""
        return bool(self.turns)

    def clear_urgent(self) -> None:
        """Forget urgent lines of a dead connection (registration is per link)."""
        self.urgent.clear()
