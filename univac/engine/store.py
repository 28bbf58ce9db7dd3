"""The state store: where plugin state (and, if asked, the audit trail) is kept. Layer: core.

A store keeps one record per key, ``(namespace, key) -> JSON text``, the namespace being
the plugin's name, so changing one key costs the same at 10 or 100,000 keys. ``State``
(state.py) is the plugin-facing mapping on top of it. Backends, chosen by ``[store]
backend``: ``sqlite`` (the default, embedded, sqlite_store.py) and ``postgres``
(``univac.stores.postgres``, loaded by name like a transport; the core stays
standard-library only).

The contract of a backend module (every method may be called from any thread):

- ``Settings``: a frozen dataclass filled from ``[store]`` (without the core's keys,
  ``backend`` and ``audit``); ``connect(settings, folder) -> Store`` opens it, or raises
  ``StoreError`` with a message for the operator. ``folder`` is the state folder.
- ``Store.load(namespace)``: every record of the namespace, ``{key: JSON text}``.
- ``Store.commit(namespace, changes, epoch)``: one transaction; ``changes`` maps a key
  to JSON text to set, or to None to delete; all land or none. It returns None when
  the commit is durable already, or a wait (a function of no arguments) that returns
  once it is durable: ``State`` calls the wait after releasing its lock, so a backend
  can sync once for the commits of several threads (the SQLite store does).
- ``Store.append_audit(record, epoch)``: one audit record (a JSON object, as text).
- ``Store.migrate(dry_run)``: create or upgrade the schema, idempotently; returns the
  SQL statements run (or, with ``dry_run``, that would run).
- ``Store.close()``.

Failures raise ``StoreError`` (its text is safe for chat; the store logs the detail).

Fencing (for two instances with one active): every write carries the writer's
``epoch``, read from the bot's ``Fence`` at the moment of the write. ``None`` means
"not fenced" (no leader lease in use). Otherwise, inside the write's own transaction,
the store reads the lease row ``univac_lease`` where ``name = 'leader'`` (locked
against a concurrent takeover until the write commits) and refuses the write with
``StaleEpochError`` unless the row exists and holds exactly that epoch. A leader lease
sets ``Fence.epoch`` when it takes the lease and bumps the row's epoch on each
takeover, so a deposed leader's late writes are refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from univac.engine import loader, sqlite_store
from univac.errors import PluginError

STORE_GROUP = "univac.stores"
CORE_KEYS = ("backend", "audit")

log = logging.getLogger("univac.store")


class Store(Protocol):
    """What a state store backend provides (see the module docstring)."""

    def load(self, namespace: str) -> dict[str, str]: ...

    def commit(self, namespace: str, changes: Mapping[str, str | None],
               epoch: int | None) -> Callable[[], None] | None: ...

    def append_audit(self, record: str, epoch: int | None) -> None: ...

    def migrate(self, dry_run: bool = False) -> list[str]: ...

    def close(self) -> None: ...


class Fence:
    """The epoch this instance writes with: None (writes not fenced) until a leader
    lease sets it. Read at every write; set by one thread, so a plain attribute."""

    def __init__(self, epoch: int | None = None) -> None:
        self.epoch = epoch


@dataclass(frozen=True)
class StoreEntry:
    """The ``[store]`` table, resolved to its backend module and filled settings."""

    backend: str = "sqlite"
    module: ModuleType = sqlite_store
    settings: Any = field(default_factory=sqlite_store.Settings)
    audit: bool = False
    """Also write every audit record to the store (the JSON-lines file stays)."""


def read_table(
    table: Any, fill: Callable[[type, Any, str], Any], issue: Callable[[str, str], None]
) -> StoreEntry | None:
    """Resolve ``[store]``; problems go to ``issue(key, reason)``; None when invalid."""
    if not isinstance(table, Mapping):
        issue("store", "expected a table")
        return None
    backend, audit = table.get("backend", "sqlite"), table.get("audit", False)
    if not isinstance(backend, str):
        issue("store.backend", "expected a string such as 'sqlite' or 'postgres'")
        return None
    if not isinstance(audit, bool):
        issue("store.audit", "expected a boolean")
        return None
    module = backend_module(backend, issue)
    rest = {key: value for key, value in table.items() if key not in CORE_KEYS}
    settings = fill(module.Settings, rest, "store") if module else None
    if module is None or settings is None:
        return None
    return StoreEntry(backend, module, settings, audit)


def backend_module(backend: str, issue: Callable[[str, str], None]) -> ModuleType | None:
    """The module of ``backend``: the embedded ``sqlite``, else a name in univac.stores."""
    if backend == "sqlite":
        return sqlite_store
    try:
        module = loader.load_module(STORE_GROUP, backend)
    except PluginError as error:
        issue("store.backend", f"store {error}")
        return None
    if not all(hasattr(module, name) for name in ("Settings", "connect")):
        issue("store.backend", f"'{backend}' is not a store backend (no Settings and connect)")
        return None
    return module


def open_store(entry: StoreEntry, folder: Path) -> Store:
    """Connect to the configured store and bring its schema up to date (StoreError)."""
    store: Store = entry.module.connect(entry.settings, folder)
    try:
        for statement in store.migrate():
            log.info("store schema: %s", statement.splitlines()[0])
    except BaseException:
        store.close()
        raise
    return store
