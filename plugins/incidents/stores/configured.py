"""The store the settings name, opened. Start-up (the plugin's ``setup``, the tool)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import IncidentStore
from .auto import AutoStore
from .jsonl import JsonlStore
from .postgres import PostgresStore


def postgres_of(settings: Any) -> PostgresStore:
    """The PostgreSQL store of the settings (not connected yet)."""
    return PostgresStore(settings.dsn, settings.connect_timeout_s, settings.timeout_s)


def open_store(settings: Any, data_dir: Path) -> IncidentStore:
    """``jsonl``, ``postgres`` or ``auto``; StoreError when the JSON lines folder
    (``folder``, else ``data_dir``) cannot be opened. PostgreSQL is connected on first
    use (its tables made if missing)."""
    if settings.store == "jsonl":
        return JsonlStore(settings.journal_folder(data_dir))
    if settings.store == "postgres":
        return postgres_of(settings)
    return AutoStore(postgres_of(settings), JsonlStore(settings.journal_folder(data_dir)))
