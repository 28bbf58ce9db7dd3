"""Outgoing IRC lines: flood control, fair reply queues, the CTCP allowance, drop counts.

Layer: transport (IRC adapter); stdlib only. Only the transport's I/O thread touches
these objects; the ``Sender`` (sender.py) owns them. Reply lines wait per key (the
person who asked, else the target), and the key that was served least lately goes
first, so a newcomer is answered ahead of whoever is flooding. What is dropped is
fair too: past a bound, the oldest lines of the key holding the most go first.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import Counter, deque

log = logging.getLogger("univac.transports.irc")

REASONS = {
    "lines": "over max_queued_lines",
    "bytes": "over max_queued_bytes",
    "ctcp": "CTCP limit",
    "inbox": "inbox full",
}
HALF_LIFE_S = 30.0
"""How fast what a key was sent fades: after this long it counts half."""
_DECAY = math.log(2) / HALF_LIFE_S
_REBASE = 20.0
"""Rescale the usage scores once they grow by e**20, long before a float overflows."""


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

    def take(self, now: float, keep: int = 0) -> bool:
        """Spend one token if there is one beyond the ``keep`` held in reserve."""
        if self.rate <= 0:
            return True
        self._refill(now)
        if self.tokens >= 1.0 + keep:
            self.tokens -= 1.0
            return True
        return False

    def wait(self, now: float, keep: int = 0) -> float:
        """Seconds until ``take(now, keep)`` can succeed (0 when it can now)."""
        if self.rate <= 0:
            return 0.0
        self._refill(now)
        need = 1.0 + min(keep, self.burst - 1)
        return 0.0 if self.tokens >= need else (need - self.tokens) / self.rate


class Drops:
    """Lines dropped: totals by reason, and one log line per burst of drops."""

    QUIET_S = 2.0
    """A burst ends after this long without a drop; then it is logged."""
    REPORT_S = 30.0
    """A burst that goes on is logged at least this often."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.totals: dict[str, int] = dict.fromkeys(REASONS, 0)  # fixed keys: safe to copy
        self.pending: Counter[tuple[str, str]] = Counter()
        self.first = self.last = 0.0

    def add(self, reason: str, key: str, now: float, count: int = 1) -> None:
        """Count ``count`` lines dropped for ``key`` (a requester, target or nick)."""
        if not self.pending:
            self.first = now
        self.totals[reason] += count
        self.pending[(reason, key)] += count
        self.last = now

    def deadline(self) -> float:
        """When ``report`` has something to log (infinity if never)."""
        if not self.pending:
            return float("inf")
        return min(self.last + self.QUIET_S, self.first + self.REPORT_S)

    def report(self, now: float) -> None:
        """Log the burst so far in one WARNING once it has ended or lasted long."""
        if now < self.deadline():
            return
        total = sum(self.pending.values())
        worst = self.pending.most_common(5)
        parts = [f"{n} for {key} ({REASONS[reason]})" for (reason, key), n in worst]
        if len(self.pending) > len(worst):
            parts.append(f"{len(self.pending) - len(worst)} more")
        log.warning("%s: dropped %d outgoing lines in the last %.1f s: %s", self.name, total,
                    max(0.0, now - self.first), "; ".join(parts))  # fmt: skip
        self.pending.clear()


class FairQueue:
    """Reply lines (encoded, with CRLF) per key; the least lately served key goes first.

    Each key has a usage score: the lines it was sent, each fading with a half-life of
    ``HALF_LIFE_S``. Scores are kept inflated by ``e**(decay * (t - base))`` so that
    fading never reorders the heap: a key's score changes only when it is served.
    ``max_lines`` (0: none) bounds the lines one key may hold; ``max_bytes`` bounds
    all of them together, taking from the key that holds the most bytes.
    """

    def __init__(self, max_lines: int, max_bytes: int, drops: Drops, now: float) -> None:
        self.max_lines, self.max_bytes, self.drops = max_lines, max_bytes, drops
        self.queues: dict[str, deque[bytes]] = {}
        self.sizes: dict[str, int] = {}
        self.held = 0
        self.usage: dict[str, float] = {}
        self.heap: list[tuple[float, int, str]] = []
        self.in_heap: set[str] = set()
        self.base = now
        self.seq = 0

    def __len__(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def __bool__(self) -> bool:
        return bool(self.queues)

    def push(self, key: str, lines: list[bytes], now: float) -> None:
        """Queue lines for ``key``, then drop what is over the bounds."""
        if not lines:
            return
        queue = self.queues.get(key)
        if queue is None:
            queue = self.queues[key] = deque()
            self.sizes[key] = 0
        queue.extend(lines)
        added = len(lines[0]) if len(lines) == 1 else sum(map(len, lines))
        self.sizes[key] += added
        self.held += added
        if key not in self.in_heap:
            self.in_heap.add(key)
            self.seq += 1
            heapq.heappush(self.heap, (self.usage.get(key, 0.0), self.seq, key))
        if self.max_lines and len(queue) > self.max_lines:
            self._drop(key, len(queue) - self.max_lines, "lines", now)
        while self.held > self.max_bytes:
            self._drop(max(self.sizes, key=self.sizes.__getitem__), 1, "bytes", now)

    def _drop(self, key: str, count: int, reason: str, now: float) -> None:
        queue = self.queues[key]
        for _ in range(count):
            size = len(queue.popleft())
            self.sizes[key] -= size
            self.held -= size
        if not queue:
            del self.queues[key], self.sizes[key]  # its heap entry is skipped when reached
        self.drops.add(reason, key, now, count)

    def _head(self) -> str | None:
        """The key served next (its stale heap entries are dropped on the way)."""
        while self.heap:
            key = self.heap[0][2]
            if self.queues.get(key):
                return key
            heapq.heappop(self.heap)
            self.in_heap.discard(key)
        return None

    def head_usage(self, now: float) -> float:
        """What the key served next was sent lately (faded lines; 0 when nothing waits)."""
        key = self._head()
        if key is None:
            return 0.0
        return self.heap[0][0] * math.exp(-_DECAY * (now - self.base))

    def pop(self, now: float) -> bytes | None:
        """The next line: the oldest of the key with the lowest usage score."""
        key = self._head()
        if key is None:
            return None
        score = self.heap[0][0]
        queue = self.queues[key]
        line = queue.popleft()
        self.sizes[key] -= len(line)
        self.held -= len(line)
        self.usage[key] = score = score + math.exp(_DECAY * (now - self.base))
        if queue:
            self.seq += 1
            heapq.heapreplace(self.heap, (score, self.seq, key))
        else:
            heapq.heappop(self.heap)
            self.in_heap.discard(key)
            del self.queues[key], self.sizes[key]
        if _DECAY * (now - self.base) > _REBASE:
            self._rebase(now)
        return line

    def _rebase(self, now: float) -> None:
        """Scale every score down to ``now`` and forget keys whose usage has faded."""
        factor = math.exp(-_DECAY * (now - self.base))
        self.base = now
        self.usage = {k: u * factor for k, u in self.usage.items()
                      if u * factor >= 0.01 or k in self.in_heap}  # fmt: skip
        self.heap = [(s * factor, seq, k) for s, seq, k in self.heap]
        heapq.heapify(self.heap)

    def clear(self) -> None:
        """Forget every queued line (usage stays)."""
        self.queues.clear()
        self.sizes.clear()
        self.held = 0
        self.heap.clear()
        self.in_heap.clear()


class CtcpAllowance:
    """Per-nick allowance for CTCP replies: ``burst`` at once, then one per ``every_s``."""

    MAX_NICKS = 1024

    def __init__(self, burst: int = 3, every_s: float = 10.0) -> None:
        self.burst, self.every_s = burst, every_s
        self.spent: dict[str, tuple[float, float]] = {}

    def allow(self, nick: str, now: float) -> bool:
        """Whether ``nick`` may have one more CTCP reply now (and spend it)."""
        tokens = self._tokens(nick, now)
        if tokens < 1.0:
            return False
        if nick not in self.spent and len(self.spent) >= self.MAX_NICKS:
            self.spent = {n: s for n, s in self.spent.items() if self._tokens(n, now) < self.burst}
            if len(self.spent) >= self.MAX_NICKS:
                return False  # too many nicks asking at once: a CTCP flood
        self.spent[nick] = (tokens - 1.0, now)
        return True

    def _tokens(self, nick: str, now: float) -> float:
        if nick not in self.spent:
            return float(self.burst)
        tokens, stamp = self.spent[nick]
        return min(float(self.burst), tokens + max(0.0, now - stamp) / self.every_s)
