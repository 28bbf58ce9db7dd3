"""The append-only audit trail of privileged actions. Layer: core; any thread.

One JSON object per line: when, who (identity, nick, transport), where, what and the
outcome, for privileged commands, refusals, approvals, denials and expiries. Each record
is a single ``write`` on a file opened for appending, followed by ``fsync``, so a kill
at any moment loses no completed record and leaves no partial line. When the file
passes ``max_bytes`` it is rotated to ``.1`` (``.2``, ... up to ``keep`` files).

With ``[store] audit = true`` each record is also handed to ``sink`` (the state store,
with the writer's epoch: two instances share one trail there). A record the store
refuses or cannot take is logged as an error; the file still has it.

Refused commands are summarised, so that a sender without the role cannot fill the
trail (and push real history out of it) by repeating a command: the first refusal of
a sender and command is written at once, the repeats within the next minute are only
counted, and their count is written as one record (``repeated``, ``last``) when the
minute is over (at the next refusal of anyone, or at ``close``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from univac.errors import StoreError
from univac.message import Message

log = logging.getLogger("univac.audit")
REFUSAL_WINDOW_S = 60.0
MAX_REFUSAL_KEYS = 10_000


@dataclass
class _Refusals:
    """Refusals of one sender and command since the last record written for them."""

    started: float
    message: Message
    reason: str
    repeated: int = 0
    last: str = ""


class AuditLog:
    """Appends audit records to a JSON-lines file (or nowhere, when path is None)."""

    def __init__(self, path: Path | None, max_bytes: int = 10_000_000, keep: int = 5,
                 sink: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._sink = sink
        self._max_bytes = max_bytes
        self._keep = keep
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._clock = clock
        self._refusals: dict[tuple[str, str], _Refusals] = {}
        self._refusals_lock = threading.Lock()

    def refused(self, message: Message, command: str, reason: str) -> None:
        """Record a refused command, summarising repeats (see the module's docstring)."""
        key = (message.identity or f"{message.transport}:{message.sender}", command)
        now = self._clock()
        with self._refusals_lock:
            seen = self._refusals.get(key)
            if seen is not None and now - seen.started < REFUSAL_WINDOW_S:
                seen.repeated += 1
                seen.message, seen.last = message, _now()
                return
            ended = self._take_ended(now)
            self._refusals[key] = _Refusals(now, message, reason)
        for (_, label), done in ended:
            self._summary(label, done)
        self.record("command", "refused", message, command=command, reason=reason)

    def _take_ended(self, now: float) -> list[tuple[tuple[str, str], _Refusals]]:
        """Remove the windows that are over, and the oldest while too many are open.

        Windows are kept in the order they started, so the search stops at the first
        one still running.
        """
        ended = []
        for key, seen in self._refusals.items():
            open_ones = len(self._refusals) - len(ended)
            if now - seen.started < REFUSAL_WINDOW_S and open_ones < MAX_REFUSAL_KEYS:
                break
            ended.append((key, seen))
        for key, _ in ended:
            del self._refusals[key]
        return [(key, seen) for key, seen in ended if seen.repeated]

    def _summary(self, command: str, seen: _Refusals) -> None:
        self.record("command", "refused", seen.message, command=command, reason=seen.reason,
                    repeated=seen.repeated, last=seen.last)

    def record(
        self, action: str, outcome: str, message: Message | None = None, **details: Any
    ) -> None:
        """Write one record and fsync it before returning."""
        entry: dict[str, Any] = {"time": _now()}
        if message is not None:
            entry |= {"transport": message.transport, "target": message.target,
                      "identity": message.identity, "sender": message.sender}
        entry |= {"action": action, "outcome": outcome} | details
        text = json.dumps(entry, ensure_ascii=False, default=str)
        if self.path is not None:
            self._append((text + "\n").encode("utf-8"))
        if self._sink is not None:
            try:
                self._sink(text)
            except StoreError:
                kept = f"it is in {self.path}" if self.path else text
                log.error("audit record not written to the store; %s", kept)

    def _append(self, line: bytes) -> None:
        with self._lock:
            fd = self._open()
            os.write(fd, line)
            os.fsync(fd)
            if os.fstat(fd).st_size >= self._max_bytes:
                self._rotate()

    def _open(self) -> int:
        if self._fd is None:
            assert self.path is not None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

    def _rotate(self) -> None:
        assert self.path is not None
        self._close()
        for number in range(self._keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{number}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{number + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def close(self) -> None:
        """Write the pending refusal counts and close the file (it reopens when needed)."""
        with self._refusals_lock:
            ended = self._take_ended(float("inf"))
        for (_, command), seen in ended:
            self._summary(command, seen)
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
