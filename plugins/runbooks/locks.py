"""One run of a step at a time per environment: a lock file per (step, environment).

Any thread. The lock is ``flock`` on a file in ``<artifacts_dir>/locks``: the kernel
drops it when the descriptor is closed, also when the process is killed, so a bot
killed in the middle of a step leaves no stuck lock (the next start finds it free). The
descriptor is not inherited by the step's process (Python opens files close-on-exec and
``subprocess`` closes the others). Two threads of one bot exclude each other too: each
opens the file anew, and ``flock`` locks belong to the open file, not the process. The
file holds who runs the step, for the "already running" answer.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any


class StepLock:
    """The lock of one step in one environment; ``acquire`` never waits."""

    def __init__(self, folder: Path, step: str, environment: str) -> None:
        self.path = folder / f"{step}@{environment}.lock"
        self._fd: int | None = None

    def acquire(self, holder: dict[str, Any]) -> bool:
        """Take the lock and note ``holder`` in it; False when another run holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode("utf-8"), 0)
        self._fd = fd
        return True

    def busy(self) -> bool:
        """Whether a run holds the lock now (taking and dropping it to find out)."""
        if self.acquire({}):
            self.release()
            return False
        return True

    def holder(self) -> dict[str, Any]:
        """What the running holder noted (empty when unreadable)."""
        try:
            value = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.ftruncate(fd, 0)
            os.close(fd)
