"""The append-only audit trail of privileged actions. Layer: core; any thread.

One JSON object per line: when, who (identity, nick, transport), where, what and the
outcome, for privileged commands, refusals, approvals, denials and expiries. Each record
is a single ``write`` on a file opened for appending, followed by ``fsync``, so a kill
at any moment loses no completed record and leaves no partial line. When the file
passes ``max_bytes`` it is rotated to ``.1`` (``.2``, ... up to ``keep`` files).

With ``[store] audit = true`` each record is also handed to ``sink`` (the state store,
with the writer's epoch: two instances share one trail there). A record the store
refuses or cannot take is logged as an error; the file still has it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from univac.errors import StoreError
from univac.message import Message

log = logging.getLogger("univac.audit")


class AuditLog:
    """Appends audit records to a JSON-lines file (or nowhere, when path is None)."""

    def __init__(self, path: Path | None, max_bytes: int = 10_000_000, keep: int = 5,
                 sink: Callable[[str], None] | None = None) -> None:
        self.path = path
        self._sink = sink
        self._max_bytes = max_bytes
        self._keep = keep
        self._lock = threading.Lock()
        self._fd: int | None = None

    def record(
        self, action: str, outcome: str, message: Message | None = None, **details: Any
    ) -> None:
        """Write one record and fsync it before returning."""
        entry: dict[str, Any] = {"time": datetime.now(UTC).isoformat(timespec="milliseconds")}
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
        """Close the file (it reopens on the next record)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
