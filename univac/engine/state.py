"""Persistent, locked plugin state (``ctx.state``). Layer: core; any thread.

A plugin's state is a mapping of JSON values, kept in the state store (store.py) as
one record per key under the plugin's name, so a change costs the same at 10 or
100,000 keys. A change outside a ``with`` block is one transaction. Inside, the lock
is held and the changes are written in one transaction when the outermost block ends::

    with ctx.state:
        ctx.state["count"] = ctx.state.get("count", 0) + 1

All of a block's changes land, or none: an exception leaving a block undoes that
block's changes, and a write the store refuses (``StoreError``: the database is
unreachable, or this instance is no longer the leader) changes nothing and raises.

Reads come from memory: every record of the plugin, loaded once, as JSON text that is
decoded at each read, so a value a handler changes in place is never taken for what
is stored. A thread inside a ``with`` block reads its own changes; any other thread
reads, without waiting for the lock, what blocks have handed to the store. A block
holds the lock only to hand its changes over (the bot's store writes them on its
writer thread, commits.py) and then waits, outside the lock, until they are durable:
so several threads' blocks are written and synced together, and a reader elsewhere
never waits for a disk (the webhook benchmark depends on it). A change can thus be
seen a moment before it is durable; if it then fails, memory goes back to what is
stored and the block raises.

The store is the truth: after a failed write (whose outcome may be unknown, when the
database went away during the commit) the records are loaded again before the next
block, and ``reload()`` lets a new leader do the same. ``generation`` counts the loads
(1 at start), so a plugin that keeps something derived from its state in memory (an
index) can tell when to build it again.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from univac.engine.store import Fence, Store
from univac.errors import StoreError

log = logging.getLogger("univac.state")


class State:
    """A plugin's key-value store of JSON values; each change is a store transaction."""

    def __init__(self, store: Store, namespace: str, fence: Fence | None = None) -> None:
        self._store = store
        self.namespace = namespace
        self._fence = fence or Fence()
        self._lock = threading.RLock()
        self._owner = 0
        """The thread inside a ``with`` block (0: none); only it sees ``_pending``."""
        self._pending: dict[str, str | None] = {}
        self._saved: list[dict[str, str | None]] = []
        self._stale = False
        self._records: dict[str, str] = store.load(namespace)
        self.generation = 1
        """How many times the records were read from the store: 1 at start, one more at
        each ``reload()`` (a new leader, or the next block after a failed write)."""

    def __enter__(self) -> State:
        self._lock.acquire()
        try:
            if not self._saved and self._stale:
                self.reload()
        except BaseException:
            self._lock.release()
            raise
        self._saved.append(dict(self._pending))
        self._owner = threading.get_ident()
        return self

    def __exit__(self, error_type: type[BaseException] | None, *rest: object) -> None:
        durable = None
        try:
            saved = self._saved.pop()
            if error_type is not None:
                self._pending = saved
            elif not self._saved and self._pending:
                durable = self._commit()
        finally:
            if not self._saved:
                self._pending = {}
                self._owner = 0
            self._lock.release()
        if durable is not None:
            self._wait(*durable)

    def get(self, key: str, default: Any = None) -> Any:
        text = self._text(key)
        return default if text is None else json.loads(text)

    def __getitem__(self, key: str) -> Any:
        text = self._text(key)
        if text is None:
            raise KeyError(key)
        return json.loads(text)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._text(key) is not None

    def __setitem__(self, key: str, value: Any) -> None:
        text = _encode(key, value)
        with self:
            self._pending[key] = text

    def __delitem__(self, key: str) -> None:
        with self:
            if self._text(key) is None:
                raise KeyError(key)
            self._pending[key] = None

    def keys(self) -> list[str]:
        with self._lock:
            merged = dict.fromkeys(self._records)
            for key, text in self._pending.items():
                if text is None:
                    merged.pop(key, None)
                else:
                    merged[key] = None
            return list(merged)

    def reload(self) -> None:
        """Load every record from the store again (StoreError when it cannot)."""
        with self._lock:
            self._records = self._store.load(self.namespace)
            self._stale = False
            self.generation += 1

    def _text(self, key: str) -> str | None:
        if self._owner != threading.get_ident() and not self._stale:
            return self._records.get(key)  # committed records; one dict read is atomic
        with self._lock:
            if key in self._pending:
                return self._pending[key]
            if self._stale and not self._saved:
                self._try_reload()
            return self._records.get(key)

    def _try_reload(self) -> None:
        try:
            self.reload()
        except StoreError:
            log.debug("state of %s: store still unavailable; reading memory", self.namespace)

    def _commit(self) -> tuple[Callable[[], None], dict[str, str | None],
                               dict[str, str | None]] | None:
        """Hand the block's changes to the store and show them to the next blocks; return
        the wait for durability with what to undo if it fails (None: durable already)."""
        changes, self._pending = self._pending, {}
        try:
            durable = self._store.commit(self.namespace, changes, self._fence.epoch)
        except BaseException:
            self._stale = True
            raise
        undo = {key: self._records.get(key) for key in changes}
        self._apply(changes)
        return None if durable is None else (durable, changes, undo)

    def _apply(self, changes: dict[str, str | None]) -> None:
        for key, text in changes.items():
            if text is None:
                self._records.pop(key, None)
            else:
                self._records[key] = text

    def _wait(self, durable: Callable[[], None], changes: dict[str, str | None],
              undo: dict[str, str | None]) -> None:
        """Wait until the block's commit is durable (outside the lock: commits of other
        threads are written and synced together). When it fails, memory goes back to
        what was stored (where no later block changed a key again), and the records are
        loaded again before the next block, since what is on disk is not known."""
        try:
            durable()
        except BaseException:
            with self._lock:
                self._apply({key: text for key, text in undo.items()
                             if self._records.get(key) == changes[key]})
                self._stale = True
            raise


def _encode(key: str, value: Any) -> str:
    """The JSON text of ``value``; TypeError for a key that is not a string."""
    if not isinstance(key, str):
        raise TypeError(f"state keys are strings, not {type(key).__name__}")
    return json.dumps(value)
