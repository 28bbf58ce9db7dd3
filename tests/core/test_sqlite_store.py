"""The embedded SQLite store: its file, durability settings, schema and errors."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from tests.core.test_state import reopened
from tests.waiting import wait_for
from univac.engine import sqlite_store
from univac.engine.state import State
from univac.engine.store import StoreEntry, open_store
from univac.errors import StoreError


def test_one_file_in_the_state_folder_with_wal_and_grouped_syncs(tmp_path: Path) -> None:
    store = open_store(StoreEntry(), tmp_path / "state")
    try:
        assert store.path == tmp_path / "state" / "state.sqlite3"  # type: ignore[attr-defined]
        db = store._db  # type: ignore[attr-defined]
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL, + GroupSync
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(sqlite_store.MIGRATIONS)
    finally:
        store.close()


def test_the_file_setting_is_relative_to_the_state_folder(tmp_path: Path) -> None:
    settings = sqlite_store.Settings(file="db/univac.db")
    store = open_store(StoreEntry(settings=settings), tmp_path)
    store.close()
    assert (tmp_path / "db" / "univac.db").is_file()


def test_a_file_that_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "state.sqlite3").mkdir()
    with pytest.raises(StoreError, match=r"cannot open the SQLite store .*state\.sqlite3"):
        open_store(StoreEntry(), tmp_path)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "state.sqlite3").write_bytes(b"x" * 4096)
    with pytest.raises(StoreError, match="not a database"):
        open_store(StoreEntry(), tmp_path)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "state.sqlite3") as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99, newer than this univac"):
        open_store(StoreEntry(), tmp_path)


def test_migrate_creates_then_has_nothing_to_do(tmp_path: Path) -> None:
    store = sqlite_store.connect(sqlite_store.Settings(), tmp_path)
    try:
        planned = store.migrate(dry_run=True)
        assert planned[-1] == f"PRAGMA user_version = {len(sqlite_store.MIGRATIONS)}"
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == 0
        assert store.migrate() == planned
        assert store.migrate() == [] and store.migrate(dry_run=True) == []
    finally:
        store.close()


def test_a_block_returns_only_after_the_log_is_synced(tmp_path: Path, monkeypatch) -> None:
    store = open_store(StoreEntry(), tmp_path)
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(sqlite_store.os, "fsync", lambda fd: (synced.append(fd),
                                                              real_fsync(fd))[1])
    try:
        state = State(store, "plugin")
        with state:
            state["a"] = 1
            assert synced == []
        assert len(synced) == 1
        state["b"] = 2
        assert len(synced) == 2
    finally:
        store.close()


def test_commits_of_several_threads_share_syncs(tmp_path: Path, monkeypatch) -> None:
    """While one sync runs (held open here), other threads commit; one sync covers them."""
    store = open_store(StoreEntry(), tmp_path)
    state = State(store, "plugin")
    state["warm"] = 0
    in_sync, release = threading.Event(), threading.Event()
    syncs: list[int] = []
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        syncs.append(fd)
        if len(syncs) == 1:  # the first writer's sync: hold it while others commit
            in_sync.set()
            assert release.wait(10)
        real_fsync(fd)

    monkeypatch.setattr(sqlite_store.os, "fsync", slow_fsync)
    first = threading.Thread(target=lambda: state.__setitem__("first", 1))
    first.start()
    assert in_sync.wait(10)
    others = [threading.Thread(target=state.__setitem__, args=(f"k{n}", n)) for n in range(8)]
    for thread in others:
        thread.start()
    wait_for(lambda: len(reopened(store)) == 10, what="the other commits")
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    try:
        assert len(syncs) == 2, syncs  # the held one, then one for all 8 others
        assert reopened(store)["k7"] == "7"
    finally:
        store.close()
