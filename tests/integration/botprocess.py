"""Run the real ``univac`` command as a child process and talk to it over stdin/stdout."""

from __future__ import annotations

import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path


def univac_command() -> list[str]:
    """The installed console script, or ``python -m univac`` beside this interpreter."""
    script = Path(sys.executable).with_name("univac")
    if script.exists():
        return [str(script)]
    found = shutil.which("univac")
    return [found] if found else [sys.executable, "-m", "univac"]


class BotProcess:
    """A ``univac`` process whose stdout lines are collected by a reader thread."""

    def __init__(self, *args: str, cwd: Path | None = None) -> None:
        self.process = subprocess.Popen(
            [*univac_command(), *args], cwd=cwd, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, count: int = 1, timeout: float = 10.0) -> list[str]:
        """The next ``count`` stdout lines; AssertionError if they do not come in time."""
        deadline = time.monotonic() + timeout
        got = []
        while len(got) < count:
            try:
                got.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"waited {timeout} s for {count} line(s), got {got}") from None
        return got

    def finish(self, timeout: float = 10.0, close_stdin: bool = True) -> int:
        """Wait for the exit code (closing stdin first, unless told not to); keep stderr."""
        try:
            if close_stdin:
                _, self.stderr = self.process.communicate(timeout=timeout)
            else:
                self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        finally:
            if self.process.stderr is not None and not self.process.stderr.closed:
                self.stderr = self.process.stderr.read()
        return self.process.returncode
