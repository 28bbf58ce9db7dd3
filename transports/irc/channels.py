"""Channel membership for IRC: join with keys, retry unanswered JOINs, rejoin.

Layer: transport (IRC adapter); stdlib only. The transport's I/O thread runs it.
A channel is joined when the server (or a bouncer) shows our own JOIN or the end of
its NAMES list. A JOIN with no answer is retried with doubling delays, and the reason
of the last failure is kept for ``status()``. JOINs go several channels to a line
(``join_lines``), within 512 bytes and the server's ``TARGMAX`` and ``CHANLIMIT``;
the first join after connecting and every retry take the same path.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lines import clean
from .state import Link

LINE_MAX = 510
"""Bytes of a line we send, without its CRLF."""


@dataclass
class Pending:
    """A JOIN waiting for an answer, or waiting for its next try."""

    due: float
    attempt: int = 0
    reason: str = ""


def _limit(value: str, wanted: str) -> int:
    """From an ISUPPORT list such as ``JOIN:5,PRIVMSG:4`` or ``#&:20``: the number for
    the entry whose key contains ``wanted`` (0: no limit, or none given)."""
    for item in value.split(","):
        keys, _sep, number = item.partition(":")
        if wanted in keys.upper() and number.strip().isdigit():
            return int(number)
    return 0


def per_line(link: Link, channel: str) -> int:
    """How many channels one JOIN may name for this server (0: as many as fit)."""
    limits = [_limit(link.isupport.get("TARGMAX", ""), "JOIN")]
    if channel:
        limits.append(_limit(link.isupport.get("CHANLIMIT", ""), channel[0].upper()))
    found = [n for n in limits if n > 0]
    return min(found) if found else 0


def join_lines(link: Link, entries: list[tuple[str, str]]) -> list[str]:
    """JOIN lines for ``(channel, key)`` pairs: keyed channels first (their keys line
    up with them), as many to a line as 510 bytes and the server's limits allow."""
    lines: list[str] = []
    names: list[str] = []
    keys: list[str] = []
    size = len("JOIN")
    for name, key in sorted(entries, key=lambda entry: not entry[1]):  # stable: keyed first
        name, key = _token(name), _token(key)
        cost = 1 + len(name.encode()) + (1 + len(key.encode()) if key else 0)
        cap = per_line(link, name)
        if names and (size + cost > LINE_MAX or (cap and len(names) >= cap)):
            lines.append(_join(names, keys))
            names, keys, size = [], [], len("JOIN")
        names.append(name)
        keys.extend([key] if key else [])
        size += cost
    if names:
        lines.append(_join(names, keys))
    return lines


def _token(text: str) -> str:
    return clean(text).replace(" ", "").replace(",", "")


def _join(names: list[str], keys: list[str]) -> str:
    return f"JOIN {','.join(names)} {','.join(keys)}" if keys else f"JOIN {','.join(names)}"


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
        self._folded: dict[str, str] = {}
        self._casemapping: str | None = None
        self._soonest: float | None = None

    def reset(self) -> None:
        """Forget membership (the connection is gone)."""
        self.version += 1
        self.joined.clear()
        self.pending.clear()
        self._soonest = None

    def _lines(self, link: Link, folds: list[str]) -> list[str]:
        return join_lines(link, [(self.names[f], self.keys.get(f, "")) for f in folds])

    def join_all(self, link: Link, now: float) -> list[str]:
        """JOIN lines for every configured channel not yet joined."""
        self.version += 1
        wanted = [f for f in self.names if f not in self.joined and f not in self.pending]
        for fold in wanted:
            self.pending[fold] = Pending(now + self.timeout)
        self._soonest = None
        return self._lines(link, wanted)

    def _known(self, link: Link, channel: str) -> str:
        """The configured name's key for ``channel`` (by the server's case mapping)."""
        mapping = link.isupport.get("CASEMAPPING", "rfc1459")
        if mapping != self._casemapping:  # once per connection, not once per line
            self._casemapping = mapping
            self._folded = {link.fold(name): name for name in self.names}
        fold = link.fold(channel)
        return self._folded.get(fold, fold)

    def on_joined(self, link: Link, channel: str) -> None:
        """Our JOIN (or a bouncer's) succeeded."""
        self.version += 1
        fold = self._known(link, channel)
        self.joined[fold] = channel
        if self.pending.pop(fold, None) is not None:
            self._soonest = None

    def on_left(self, link: Link, channel: str, now: float, reason: str) -> None:
        """We parted or were kicked; a configured channel is rejoined after a pause."""
        self.version += 1
        fold = self._known(link, channel)
        self.joined.pop(fold, None)
        if fold in self.names:
            self.pending[fold] = Pending(now + min(5.0, self.timeout), 0, reason)
            self._soonest = None

    def on_error(self, link: Link, channel: str, now: float, reason: str) -> None:
        """The server refused a JOIN: retry later with backoff."""
        self.version += 1
        fold = self._known(link, channel)
        if fold in self.names and fold not in self.joined:
            attempt = self.pending[fold].attempt if fold in self.pending else 0
            delay = min(self.max_delay, self.timeout * 2**attempt)
            self.pending[fold] = Pending(now + delay, attempt + 1, reason)
            self._soonest = None

    def due(self, link: Link, now: float) -> list[str]:
        """JOIN lines whose wait ran out (unanswered or refused earlier)."""
        if now < self.deadline():
            return []
        folds = []
        for fold, pending in list(self.pending.items()):
            if pending.due <= now and fold not in self.joined:
                delay = min(self.max_delay, self.timeout * 2 ** (pending.attempt + 1))
                reason = pending.reason or "no answer to JOIN"
                self.pending[fold] = Pending(now + delay, pending.attempt + 1, reason)
                folds.append(fold)
        self.version += bool(folds)
        self._soonest = None
        return self._lines(link, folds)

    def deadline(self) -> float:
        """When ``due`` next has work (infinity if never)."""
        if self._soonest is None:
            self._soonest = min((p.due for p in self.pending.values()), default=float("inf"))
        return self._soonest

    def targets(self) -> tuple[str, ...]:
        """Channels joined now, in a stable order."""
        return tuple(sorted(self.joined.values(), key=str.lower))

    def problems(self) -> str:
        """A short note on channels not joined, for ``status().detail``."""
        notes = [f"{self.names.get(f, f)}: {p.reason}" for f, p in self.pending.items() if p.reason]
        return "; ".join(sorted(notes))
