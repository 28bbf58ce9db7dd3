"""The incident records read without a bot, changing nothing. Main thread of a tool.

``settings_of`` reads ``[plugins.incidents]`` for ``univac incidents`` (``--config``,
else ``$UNIVAC_CONFIG``). ``univac incidents gate`` reads the store it configures:

- ``jsonl``: the three files are copied, each up to its last complete line, into a
  temporary folder and read there by the ``jsonl`` store, so the live folder is never
  locked, created or cut back, and a line the bot is appending right now is just not
  read yet. The folder is ``folder`` (relative: to the working directory, as for the
  bot), else ``incidents`` in the bot's state folder, found as the bot finds it
  (``[bot] state_dir`` beside the configuration file, ``$STATE_DIRECTORY``,
  ``$XDG_STATE_HOME/univac``, ``~/.local/state/univac``). A folder without
  ``incidents.jsonl`` is a problem, never "no incidents".
- ``postgres``: SELECTs only; the tables are not made (a database without them is a
  problem: ``univac incidents migrate`` makes them).
- ``auto``: PostgreSQL, and when it cannot be reached the JSON lines journal, which
  holds every record the bot wrote (a note says so).

Everything is read once, into a ``Snapshot`` (the reads ``digest.View`` names).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from univac import ConfigError, StoreError, plugin_settings
from univac import state_folder as univac_state_folder

from .model import Event, Incident
from .stores.jsonl import JsonlStore
from .stores.postgres import PostgresStore

FILES = ("events", "artifacts", "incidents")


class Unreadable(Exception):
    """The records cannot be read (its text says why, for the person running the tool)."""


@dataclass(frozen=True)
class Snapshot:
    """Every incident and event, as read once."""

    found: tuple[Incident, ...]
    timeline: tuple[Event, ...]
    source: str
    """``jsonl``, ``postgres``, or ``jsonl (PostgreSQL unreachable)``."""

    def incidents(self) -> list[Incident]:
        return list(self.found)

    def events(self, incident_id: str | None = None,
               types: Collection[str] = ()) -> list[Event]:
        return [e for e in self.timeline if (incident_id is None or e.incident_id == incident_id)
                and (not types or e.type in types)]


def settings_of(config: Path | None) -> Any:
    """The plugin's settings from ``config`` (None: ``$UNIVAC_CONFIG``); ``Unreadable``
    saying why not, and that no file was named when none was."""
    try:
        return plugin_settings("incidents", config)
    except ConfigError as error:
        named = config or os.environ.get("UNIVAC_CONFIG")
        hint = "" if named else " (no --config FILE given, and $UNIVAC_CONFIG is not set)"
        raise Unreadable(f"{error}{hint}") from None


def read_only(settings: Any, config: Path | None) -> Snapshot:
    """The records of the configured store; ``Unreadable`` saying why not."""
    if settings.store == "jsonl":
        return read_folder(journal(settings, config), "jsonl")
    try:
        return read_postgres(settings)
    except Unreadable:
        if settings.store == "postgres":
            raise
    return read_folder(journal(settings, config), "jsonl (PostgreSQL unreachable)")


def read_postgres(settings: Any) -> Snapshot:
    store = PostgresStore(settings.dsn, settings.connect_timeout_s, settings.timeout_s,
                          make_tables=False)  # a reader makes nothing
    try:
        return Snapshot(tuple(store.incidents()), tuple(store.events()), "postgres")
    except StoreError:
        raise Unreadable(f"PostgreSQL: {store.last_error or 'cannot be read'}") from None
    finally:
        store.close()


def read_folder(folder: Path, source: str) -> Snapshot:
    """The records of a JSON lines folder, read from a copy (see the module docstring)."""
    if not (folder / "incidents.jsonl").is_file():
        raise Unreadable(f"{folder} holds no incidents.jsonl: not an incident folder")
    with tempfile.TemporaryDirectory(prefix="univac-incidents-") as copy:
        try:
            for name in FILES:
                _copy_complete_lines(folder / f"{name}.jsonl", Path(copy) / f"{name}.jsonl")
            store = JsonlStore(Path(copy))
        except (OSError, StoreError) as error:
            raise Unreadable(f"{folder}: cannot be read: {error}") from None
        try:
            return Snapshot(tuple(store.incidents()), tuple(store.events()), source)
        finally:
            store.close()


def journal(settings: Any, config: Path | None) -> Path:
    """The JSON lines folder the bot uses (see the module docstring)."""
    return settings.journal_folder(state_folder(config) / "incidents")


def state_folder(config: Path | None) -> Path:
    """The bot's state folder, found as the bot finds it (``univac.state_folder``)."""
    try:
        return univac_state_folder(config)
    except ConfigError as error:
        raise Unreadable(str(error)) from None


def _copy_complete_lines(source: Path, target: Path) -> None:
    """Copy ``source`` up to its last newline (nothing when it does not exist)."""
    if not source.is_file():
        return
    with open(source, "rb") as reading, open(target, "wb") as writing:
        shutil.copyfileobj(reading, writing)
    with open(target, "rb+") as cut:
        data_end = _last_newline(cut)
        cut.truncate(data_end)


def _last_newline(handle: Any) -> int:
    """The offset after the file's last newline (0 when it has none)."""
    size = handle.seek(0, os.SEEK_END)
    position = size
    while position > 0:
        step = min(65536, position)
        position -= step
        handle.seek(position)
        found = handle.read(step).rfind(b"\n")
        if found >= 0:
            return position + found + 1
    return 0
