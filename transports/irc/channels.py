"""Channel membership for IRC: join with keys, retry unanswered JOINs, rejoin.

Layer: transport (IRC adapter); stdlib only. The transport's I/O thread runs it.
A channel is joined when the server (or a bouncer) shows our own JOIN or the end of
its NAMES list. A JOIN with no answer is retried with doubling delays, and the reason
of the last failure is kept for ``status()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lines import build
from .state import Link


@dataclass
class Pending:
    """A JOIN waiting for an answer, or waiting for its next try."""

    due: float
    attempt: int = 0
    reason: str = ""


class Channels:
    """Configured channels (``"#chan key"`` strings) and what we are in right now."""

    def __init__(self, configured: tuple[str, ...], timeout: float, max_delay: float) -> None:
        self.keys: dict[str, str] = {}
        self.names: dict[str, str] = {}
        for entry in configured:
            name, _sep, key = entry.strip().partition(" ")
            if name:
                self.names[name.lower()] = name
                self.keys[name.lower()] = key.strip()
        self.timeout = timeout
        self.max_delay = max_delay
        self.joined: dict[str, str] = {}
        self.pending: dict[str, Pending] = {}
        self.version = 0

    def reset(self) -> None:
        """Forget membership (the connection is gone)."""
        self.version += 1
        self.joined.clear()
        self.pending.clear()

    def _line(self, fold: str) -> str:
        key = self.keys.get(fold, "")
        return build("JOIN", self.names[fold], key) if key else build("JOIN", self.names[fold])

    def join_all(self, link: Link, now: float) -> list[str]:
        """JOIN lines for every configured channel not yet joined."""
        self.version += 1
        lines = []
        for fold in self.names:
            if fold not in self.joined and fold not in self.pending:
                self.pending[fold] = Pending(now + self.timeout)
                lines.append(self._line(fold))
        return lines

    def _known(self, link: Link, channel: str) -> str:
        fold = link.fold(channel)
        for name in self.names:
            if link.fold(name) == fold:
                return name
        return fold

    def on_joined(self, link: Link, channel: str) -> None:
        """Our JOIN (or a bouncer's) succeeded."""
        self.version += 1
        fold = self._known(link, channel)
        self.joined[fold] = channel
        self.pending.pop(fold, None)

    def on_left(self, link: Link, channel: str, now: float, reason: str) -> None:
        """We parted or were kicked; a configured channel is rejoined after a pause."""
        self.version += 1
        fold = self._known(link, channel)
        self.joined.pop(fold, None)
        if fold in self.names:
            self.pending[fold] = Pending(now + min(5.0, self.timeout), 0, reason)

    def on_error(self, link: Link, channel: str, now: float, reason: str) -> None:
        """The server refused a JOIN: retry later with backoff."""
        self.version += 1
        fold = self._known(link, channel)
        if fold in self.names and fold not in self.joined:
            attempt = self.pending[fold].attempt if fold in self.pending else 0
            delay = min(self.max_delay, self.timeout * 2**attempt)
            self.pending[fold] = Pending(now + delay, attempt + 1, reason)

    def due(self, link: Link, now: float) -> list[str]:
        """JOIN lines whose wait ran out (unanswered or refused earlier)."""
        lines = []
        for fold, pending in list(self.pending.items()):
            if pending.due <= now and fold not in self.joined:
                delay = min(self.max_delay, self.timeout * 2 ** (pending.attempt + 1))
                reason = pending.reason or "no answer to JOIN"
                self.pending[fold] = Pending(now + delay, pending.attempt + 1, reason)
                lines.append(self._line(fold))
                self.version += 1
        return lines

    def deadline(self) -> float:
        """When ``due`` next has work (infinity if never)."""
        return min((p.due for p in self.pending.values()), default=float("inf"))

    def targets(self) -> tuple[str, ...]:
        """Channels joined now, in a stable order."""
        return tuple(sorted(self.joined.values(), key=str.lower))

    def problems(self) -> str:
        """A short note on channels not joined, for ``status().detail``."""
        notes = [f"{self.names.get(f, f)}: {p.reason}" for f, p in self.pending.items() if p.reason]
        return "; ".join(sorted(notes))
