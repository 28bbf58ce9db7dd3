"""One append-only JSON lines file, safe against crashes. Any thread (one lock per file).

- Appends: the records of one call are written with one ``write`` on a descriptor
  opened with ``O_APPEND``, under an exclusive ``flock`` (other programs that append
  the same way never interleave with us), then ``fsync``. A write that fails half-way
  (a full disk) is cut back to where it began, so no partial line stays behind.
- Reads: new complete lines are read from where the last read stopped, so lines other
  programs append are seen; a line that is no JSON object is counted and logged,
  never fatal.
- A torn last line (the process was killed inside a write, so the file does not end in
  a newline) is set aside when the file is opened: its bytes are appended to
  ``<name>.torn`` (fsynced), the file is cut back to its last complete line, and the
  event is logged and kept in ``problems``. A record whose write did not return was
  never acknowledged, so nothing acknowledged is lost, and nothing is dropped silently.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..model import encode

log = logging.getLogger("univac.plugin.incidents")
KEEP_PROBLEMS = 20


class JsonLines:
    """Appends to and reads from one JSON lines file (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []
        self._lock = threading.Lock()
        self._offset = 0
        fresh = not path.exists()
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        if fresh:
            sync_folder(path.parent)
        with self._locked():
            self._set_aside_torn_tail()

    def append(self, records: list[Mapping[str, Any]]) -> None:
        """Write ``records`` as one append and fsync; OSError leaves the file as it was."""
        data = b"".join(encode(record) for record in records)
        if not data:
            return
        with self._lock, self._locked():
            start = os.fstat(self._fd).st_size
            try:
                written = 0
                while written < len(data):
                    written += os.write(self._fd, data[written:])
                os.fsync(self._fd)
            except OSError:
                os.ftruncate(self._fd, start)
                raise

    def read_new(self) -> list[dict[str, Any]]:
        """The records of the complete lines added since the last call."""
        with self._lock:
            size = os.fstat(self._fd).st_size
            if size <= self._offset:
                return []
            chunk = os.pread(self._fd, size - self._offset, self._offset)
            end = chunk.rfind(b"\n") + 1
            self._offset += end
            start_line = self._offset - end
        return list(self._parse(chunk[:end], start_line))

    def _parse(self, chunk: bytes, at: int) -> Iterator[dict[str, Any]]:
        for raw in chunk.splitlines():
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                record = None
            if isinstance(record, dict):
                yield record
            else:
                self._problem(f"{self.path.name}: a line near byte {at} is no JSON object; "
                              "it is left in the file and ignored")
            at += len(raw) + 1

    def _set_aside_torn_tail(self) -> None:
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        tail_start = max(0, size - 65536)
        while True:
            tail = os.pread(self._fd, size - tail_start, tail_start)
            cut = tail.rfind(b"\n")
            if cut >= 0 or tail_start == 0:
                break
            tail_start = max(0, tail_start - 65536)
        keep = tail_start + cut + 1
        if keep == size:
            return
        torn = self.path.with_name(self.path.name + ".torn")
        with open(torn, "ab") as aside:
            aside.write(os.pread(self._fd, size - keep, keep) + b"\n")
            aside.flush()
            os.fsync(aside.fileno())
        os.ftruncate(self._fd, keep)
        os.fsync(self._fd)
        self._problem(f"{self.path.name}: an unfinished last line ({size - keep} bytes, from "
                      f"a write that was interrupted) was set aside in {torn.name}")

    def _problem(self, text: str) -> None:
        log.error("incident store: %s", text)
        self.problems = [*self.problems[-(KEEP_PROBLEMS - 1):], text]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def sync_folder(folder: Path) -> None:
    """fsync a folder, so a file just created or renamed in it survives a crash."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, content: bytes) -> None:
    """Replace ``path`` with ``content`` atomically and durably (temporary file, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    sync_folder(path.parent)
