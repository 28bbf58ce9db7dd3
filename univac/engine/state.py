"""Persistent, locked plugin state (``ctx.state``). Layer: core; any thread.

Each plugin has one JSON file in the state directory. Every change is written
atomically (temporary file, fsync, rename, fsync of the folder), so a crash or a kill
leaves either the old or the new file, never half of one. Inside ``with ctx.state:``
the lock is held and the file is written once, when the outermost block ends::

    with ctx.state:
        ctx.state["count"] = ctx.state.get("count", 0) + 1

A file whose content is not a JSON object is kept aside as
``<name>.json.corrupt-<time>`` (nothing stored is deleted) and the plugin starts with an
empty state. A file that cannot be read at all (permissions) raises OSError: the
plugin is disabled rather than started without its state.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("univac.state")


class State:
    """A plugin's key-value store of JSON values, saved on every change."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._dirty = False
        self._data: dict[str, Any] = _read(path) if path else {}

    def __enter__(self) -> State:
        self._lock.acquire()
        self._depth += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._depth -= 1
            if self._depth == 0 and self._dirty:
                self._save()
        finally:
            self._lock.release()

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._data.get(key, default)

    def __getitem__(self, key: str) -> Any:
        with self._lock:
            return self._data[key]

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._data

    def __setitem__(self, key: str, value: Any) -> None:
        with self:
            self._data[key] = value
            self._dirty = True

    def __delitem__(self, key: str) -> None:
        with self:
            del self._data[key]
            self._dirty = True

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._data)

    def _save(self) -> None:
        self._dirty = False
        if self._path is not None:
            _write_atomic(self._path, json.dumps(self._data, indent=1, sort_keys=True))


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data
        reason = "the top level is not an object"
    except FileNotFoundError:
        return {}
    except ValueError as error:
        reason = str(error)
    aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
    os.replace(path, aside)
    log.error("state file %s is unreadable (%s); kept as %s, starting empty", path, reason, aside)
    return {}


def _write_atomic(path: Path, text: str) -> None:
    import tempfile  # here, not at the top: most starts write no state (about 1 ms)

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as output:
            output.write(text)
            output.flush()
            os.fsync(output.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
