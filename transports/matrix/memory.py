"""What the Matrix transport keeps across restarts. Layer: transport; the transport's
thread, and a writer thread of its own (``transport:<name>:memory``).

A few string values under fixed keys: ``homeserver``, ``user_id``, ``device_id``,
``access_token`` and ``next_batch`` (the sync token). With them a restart logs in as the
same device (no new device per start) and syncs on from where it stopped, so the server
sends only what happened meanwhile, not the rooms' history (which the session ignores
anyway: see ``session``). They live in the state store, in the transport's
``TransportContext.state`` (namespace ``transport:<name>``): with ``[ha]``, the instance
that takes over logs in as the same device and syncs on from the last kept token.

``Memory`` is the whole interface the session uses: ``get(key)`` (``""`` when unset)
and ``set(**values)`` (several keys in one transaction). ``StoreMemory`` answers ``get``
from memory, and ``set`` changes memory at once and leaves the store write to its writer
thread: a write waits for the database (at worst for its timeout), and the transport's
event loop must not. Writes are made one at a time, each with every value the store
does not hold yet, so a failed write (logged once until one succeeds) is made good by
the next. ``flush`` waits, with a deadline, for what is still being written. Values are
never logged; ``access_token`` is handed to ``TransportContext.mask`` as soon as it is
known, so it is masked in every log line and chat line.

Earlier versions kept these values in a JSON file (setting ``state_file``, by default
``matrix-<transport>.json`` in the default state folder). ``load`` (at the start of
``run``) imports that file once when the store holds nothing for this transport, then
renames it ``<file>.imported-<time>`` (kept, never read again); a file that is not a
JSON object is renamed ``<file>.corrupt-<time>``, and a file that cannot be imported now
(the store refused the write) is used for this run and imported at the next.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Protocol

from univac import StoreError, TransportContext

log = logging.getLogger("univac.transports.matrix")

KEYS = ("homeserver", "user_id", "device_id", "access_token", "next_batch")
SECRET_KEYS = ("access_token",)


class Memory(Protocol):
    """A few string values kept across restarts."""

    def get(self, key: str) -> str:
        """The value of ``key``, or ``""`` when it was never set."""

    def set(self, **values: str) -> None:
        """Keep ``values`` (keys from ``KEYS``) together, in one transaction."""


class StoreMemory:
    """``Memory`` in the transport's state, written by a thread of its own."""

    def __init__(self, name: str, context: TransportContext, former: Path | None) -> None:
        self.name = name
        self.former = former
        self._state = context.state
        self._mask = context.mask
        self._values: dict[str, str] = {}
        self._wanted: dict[str, str] | None = None
        self._writing = False
        self._cond = threading.Condition()
        self._failing = False

    def load(self) -> None:
        """Read what the store holds, or import the former file (the transport's thread)."""
        stored = {key: value for key in KEYS if isinstance(value := self._state.get(key), str)}
        values = stored or self._import_former()
        with self._cond:
            self._values = values
        self._mask_secrets(values)

    def get(self, key: str) -> str:
        return self._values.get(key, "")

    def set(self, **values: str) -> None:
        unknown = set(values) - set(KEYS)
        if unknown:
            raise KeyError(f"not a Matrix memory key: {', '.join(sorted(unknown))}")
        self._mask_secrets(values)
        with self._cond:
            if all(self._values.get(k, "") == v for k, v in values.items()):
                return
            self._values = {**self._values, **values}  # one swap: get() needs no lock
            self._wanted = self._values
            if not self._writing:
                self._writing = True
                threading.Thread(target=self._write_all, daemon=True,
                                 name=f"transport:{self.name}:memory").start()

    def flush(self, timeout: float) -> bool:
        """Wait until what was set is written (or failed); False after ``timeout`` s."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._writing, timeout)

    def _write_all(self) -> None:
        while True:
            with self._cond:
                wanted, self._wanted = self._wanted, None
                if wanted is None:
                    self._writing = False
                    self._cond.notify_all()
                    return
            self._write(wanted)

    def _write(self, wanted: dict[str, str]) -> None:
        try:
            with self._state:
                for key, value in wanted.items():
                    if self._state.get(key) != value:
                        self._state[key] = value
        except StoreError as error:
            if not self._failing:
                log.warning("%s: cannot keep the device and sync token in the state store "
                            "(%s); carrying on with them in memory", self.name, error)
            self._failing = True
        else:
            self._failing = False

    def _mask_secrets(self, values: dict[str, str]) -> None:
        for key in SECRET_KEYS:
            if values.get(key):
                self._mask(values[key])

    # -- the former file ------------------------------------------------------------

    def _import_former(self) -> dict[str, str]:
        path = self.former
        values = read_former(path, self.name) if path is not None else {}
        if not values or path is None:
            return {}
        try:
            with self._state:
                for key, value in values.items():
                    self._state[key] = value
        except StoreError as error:
            log.warning("%s: cannot import %s into the state store (%s); using it for now, "
                        "importing it at the next start", self.name, path, error)
            return values
        kept = rename_aside(path, "imported", self.name)
        log.info("%s: imported the device and sync token from %s into the state store; "
                 "the file is kept as %s", self.name, path, kept)
        return values


def read_former(path: Path, name: str) -> dict[str, str]:
    """The values of a former memory file; {} when there is none or it is unusable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as error:
        log.warning("%s: cannot read %s (%s); logging in afresh", name, path,
                    error.strerror or type(error).__name__)
        return {}
    except ValueError:
        data = None
    if not isinstance(data, dict):
        aside = rename_aside(path, "corrupt", name)
        log.warning("%s: %s is not a JSON object; kept as %s, logging in afresh", name, path,
                    aside)
        return {}
    return {k: v for k, v in data.items() if k in KEYS and isinstance(v, str) and v}


def default_former_file(transport: str) -> Path:
    """Where earlier versions kept the memory by default: ``matrix-<transport>.json`` in
    ``$STATE_DIRECTORY`` (systemd), else ``$XDG_STATE_HOME/univac``, else
    ``~/.local/state/univac`` (the core's default state folder; they never followed a
    ``[bot] state_dir``)."""
    if os.environ.get("STATE_DIRECTORY"):
        folder = Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    else:
        xdg = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
        folder = Path(xdg) / "univac"
    return folder / f"matrix-{transport}.json"


def rename_aside(path: Path, why: str, name: str) -> str:
    """Rename ``path`` to ``<name>.<why>-<time>`` (never over another file), durably;
    the new file name, or the old one when it cannot be renamed (logged)."""
    stamp = int(time.time())
    target = path.with_name(f"{path.name}.{why}-{stamp}")
    number = 0
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}.{why}-{stamp}.{number}")
    try:
        os.rename(path, target)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError as error:
        log.warning("%s: cannot rename %s (%s)", name, path, error.strerror or error)
        return path.name
    return target.name
