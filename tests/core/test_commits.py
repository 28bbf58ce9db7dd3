"""Group commit: the writer thread, its order, its barrier, and failures."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from tests.waiting import wait_for
from univac.engine import sqlite_store
from univac.engine.commits import CommitQueue
from univac.engine.state import State
from univac.engine.store import StoreEntry, open_store
from univac.errors import StoreError


class FlakyStore:
    """A store in memory whose commits fail while ``down`` (and can be held)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], str] = {}
        self.down = False
        self.order: list[dict[str, str | None]] = []
        self.hold = threading.Event()
        self.hold.set()

    def load(self, namespace: str) -> dict[str, str]:
        return {k: v for (ns, k), v in self.rows.items() if ns == namespace}

    def commit(self, namespace: str, changes: Mapping[str, str | None],
               epoch: int | None) -> Callable[[], None] | None:
        assert self.hold.wait(10)
        if self.down:
            raise StoreError("down")
        self.order.append(dict(changes))
        for key, value in changes.items():
            if value is None:
                self.rows.pop((namespace, key), None)
            else:
                self.rows[(namespace, key)] = value
        return None

    def append_audit(self, record: str, epoch: int | None) -> None: ...
    def migrate(self, dry_run: bool = False) -> list[str]: return []
    def close(self) -> None: ...


def test_changes_land_in_the_order_they_were_made() -> None:
    store = FlakyStore()
    queue = CommitQueue(store)
    state = State(queue, "p")
    threads = [threading.Thread(target=state.__setitem__, args=("n", i)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    queue.close()
    assert store.rows[("p", "n")] == str(state["n"])
    assert len(store.order) == 20


def test_a_failed_write_is_undone_in_memory_and_raises() -> None:
    store = FlakyStore()
    queue = CommitQueue(store)
    state = State(queue, "p")
    state["count"] = 2
    store.down = True
    with pytest.raises(StoreError):
        state["count"] = 3
    assert state.get("count") == 2  # another thread or block reads what is stored
    store.down = False
    state["count"] = 4
    assert queue.load("p") == {"count": "4"}
    queue.close()


def test_a_load_waits_for_what_was_queued_before_it() -> None:
    store = FlakyStore()
    queue = CommitQueue(store)
    store.hold.clear()  # the writer is stuck in a commit
    durable = queue.commit("p", {"k": "1"}, None)
    loaded: list[dict[str, str]] = []
    reader = threading.Thread(target=lambda: loaded.append(queue.load("p")))
    reader.start()
    reader.join(0.2)
    assert reader.is_alive() and loaded == []  # not answered before the commit lands
    store.hold.set()
    durable()
    reader.join(10)
    assert loaded == [{"k": "1"}]
    queue.close()


def test_sqlite_blocks_of_many_threads_share_one_sync(tmp_path: Path, monkeypatch) -> None:
    syncs: list[int] = []
    real_fsync = os.fsync
    gate = threading.Event()

    def counted_fsync(fd: int) -> None:
        syncs.append(fd)
        assert gate.wait(10)  # held until every thread has queued its change
        real_fsync(fd)

    queue = CommitQueue(open_store(StoreEntry(), tmp_path))
    state = State(queue, "p")
    monkeypatch.setattr(sqlite_store.os, "fsync", counted_fsync)
    threads = [threading.Thread(target=state.__setitem__, args=(f"k{i}", i)) for i in range(8)]
    for thread in threads:
        thread.start()
    wait_for(lambda: syncs, what="the first sync")
    gate.set()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
    assert 1 <= len(syncs) <= 2, syncs  # the first change's sync, then one for the rest
    queue.close()
    reopened = open_store(StoreEntry(), tmp_path)
    assert len(State(reopened, "p").keys()) == 8
    reopened.close()
