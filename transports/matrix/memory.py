"""What the Matrix transport keeps across restarts. Layer: transport; the transport's thread.

A few string values under fixed keys: ``homeserver``, ``user_id``, ``device_id``,
``access_token`` and ``next_batch`` (the sync token). With them a restart logs in as the
same device (no new device per start) and syncs on from where it stopped, so the server
sends only what happened meanwhile, not the rooms' history (which the session ignores
anyway: see ``session``).

``Memory`` is the whole interface the session uses: ``get(key)`` (``""`` when unset)
and ``set(**values)`` (one atomic update of several keys). ``JsonMemory`` keeps them
in a JSON file in the bot's state folder, written to a temporary file, flushed to disk
and renamed over the old one, mode 0600 (it holds an access token). Values are never
logged. A file that cannot be read or written is logged (once per kind of problem) and
the transport carries on with what it has in memory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Protocol

log = logging.getLogger("univac.transports.matrix")

KEYS = ("homeserver", "user_id", "device_id", "access_token", "next_batch")


class Memory(Protocol):
    """A few string values kept across restarts."""

    def get(self, key: str) -> str:
        """The value of ``key``, or ``""`` when it was never set."""

    def set(self, **values: str) -> None:
        """Store ``values`` (keys from ``KEYS``) together, atomically."""


def default_state_file(transport: str) -> Path:
    """``matrix-<transport>.json`` in the folder the core keeps its state in by default:
    ``$STATE_DIRECTORY`` (systemd), else ``$XDG_STATE_HOME/univac``, else
    ``~/.local/state/univac``. (A ``[bot] state_dir`` is not visible to a transport: set
    ``state_file`` to follow it.)"""
    if os.environ.get("STATE_DIRECTORY"):
        folder = Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    else:
        xdg = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
        folder = Path(xdg) / "univac"
    return folder / f"matrix-{transport}.json"


class JsonMemory:
    """``Memory`` in a JSON object in ``path``, loaded at first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._values: dict[str, str] | None = None
        self._complained: set[str] = set()

    def get(self, key: str) -> str:
        return self._load().get(key, "")

    def set(self, **values: str) -> None:
        unknown = set(values) - set(KEYS)
        if unknown:
            raise KeyError(f"not a Matrix memory key: {', '.join(sorted(unknown))}")
        current = self._load()
        if all(current.get(k, "") == v for k, v in values.items()):
            return
        current.update(values)
        try:
            write_atomically(self.path, json.dumps(current, indent=1, sort_keys=True))
        except OSError as error:
            self._complain("write", f"cannot write {self.path}: {error.strerror or error}")

    def _load(self) -> dict[str, str]:
        if self._values is None:
            self._values = self._read()
        return self._values

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            self._complain("read", f"cannot read {self.path} ({type(error).__name__}); "
                           "logging in afresh")
            return {}
        if not isinstance(data, dict):
            self._complain("read", f"{self.path} is not a JSON object; logging in afresh")
            return {}
        return {k: v for k, v in data.items() if k in KEYS and isinstance(v, str)}

    def _complain(self, kind: str, text: str) -> None:
        if kind not in self._complained:
            self._complained.add(kind)
            log.warning("%s", text)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: a crash leaves the old file or the new one, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            os.fchmod(stream.fileno(), 0o600)
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)

