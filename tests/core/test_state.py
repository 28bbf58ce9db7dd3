"""Plugin state over the embedded SQLite store: one record per key, transactions,
concurrent writers, a cache that stays true."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from univac.engine import sqlite_store
from univac.engine.sqlite_store import SqliteStore
from univac.engine.state import State
from univac.errors import StoreError


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    made = sqlite_store.connect(sqlite_store.Settings(), tmp_path)
    made.migrate()
    yield made
    made.close()


def reopened(store: SqliteStore, namespace: str = "plugin") -> dict[str, str]:
    """What another connection reads from the file: the truth on disk."""
    other = SqliteStore(store.path)
    try:
        return other.load(namespace)
    finally:
        other.close()


def test_values_persist_one_record_per_key(store: SqliteStore) -> None:
    state = State(store, "plugin")
    state["seen"] = [1, 2]
    state["name"] = "ünïcode"
    assert reopened(store) == {"seen": "[1, 2]", "name": '"\\u00fcn\\u00efcode"'}
    assert State(store, "plugin")["seen"] == [1, 2]
    assert State(store, "plugin")["name"] == "ünïcode"
    del state["seen"]
    assert "seen" not in State(store, "plugin")
    assert State(store, "other").keys() == []


def test_mapping_behaviour(store: SqliteStore) -> None:
    state = State(store, "plugin")
    state["none"] = None
    assert "none" in state and state["none"] is None and state.get("none", 5) is None
    assert state.get("missing", 5) == 5 and 3 not in state
    with pytest.raises(KeyError):
        state["missing"]
    with pytest.raises(KeyError):
        del state["missing"]
    with pytest.raises(TypeError):
        state[3] = "a key that is not a string"  # type: ignore[index]
    assert state.keys() == ["none"]


def test_a_transaction_writes_once_at_the_end(store: SqliteStore) -> None:
    state = State(store, "plugin")
    state["gone"] = 0
    with state:
        state["a"] = 1
        state["b"] = 2
        del state["gone"]
        assert reopened(store) == {"gone": "0"}
        assert state.keys() == ["a", "b"]
    assert reopened(store) == {"a": "1", "b": "2"}


def test_an_exception_in_a_block_rolls_all_of_it_back(store: SqliteStore) -> None:
    state = State(store, "plugin")
    state["kept"] = "old"
    with pytest.raises(RuntimeError), state:
        state["kept"] = "new"
        state["added"] = 1
        raise RuntimeError("the handler failed half-way")
    assert state.keys() == ["kept"] and state["kept"] == "old"
    assert reopened(store) == {"kept": '"old"'}


def test_an_inner_block_that_fails_undoes_only_its_own_changes(store: SqliteStore) -> None:
    state = State(store, "plugin")
    with state:
        state["outer"] = 1
        with pytest.raises(ValueError), state:
            state["inner"] = 2
            raise ValueError("inner")
        assert "inner" not in state
    assert reopened(store) == {"outer": "1"}


def test_a_value_changed_in_place_is_not_taken_for_the_stored_one(store: SqliteStore) -> None:
    state = State(store, "plugin")
    state["items"] = [1]
    state.get("items").append(2)
    assert state["items"] == [1]


def test_concurrent_increments_from_threads_are_not_lost(store: SqliteStore) -> None:
    states = [State(store, f"plugin{n}") for n in range(3)]

    def bump(state: State) -> None:
        for _ in range(50):
            with state:
                state["n"] = state.get("n", 0) + 1
            state[f"key{threading.get_ident()}"] = True

    threads = [threading.Thread(target=bump, args=(s,)) for s in states for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for n in range(3):
        assert reopened(store, f"plugin{n}")["n"] == "200"
        assert len(reopened(store, f"plugin{n}")) == 5


def test_unserialisable_values_fail_before_anything_is_written(store: SqliteStore) -> None:
    state = State(store, "plugin")
    state["ok"] = 1
    with pytest.raises(TypeError):
        state["bad"] = object()
    assert reopened(store) == {"ok": "1"}
    assert state.keys() == ["ok"]


def test_a_failed_write_changes_nothing_and_raises_a_clear_error(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    state = State(store, "plugin")
    state["kept"] = 1
    store.close()
    with pytest.raises(StoreError, match="cannot save its state"), state:
        state["kept"] = 2
    assert state["kept"] == 1
    assert "failed" in caplog.text
    assert SqliteStore(store.path).load("plugin") == {"kept": "1"}


def test_after_a_failed_write_the_records_are_read_again(store: SqliteStore) -> None:
    state = State(store, "plugin")
    state["n"] = 1
    other = SqliteStore(store.path)  # a commit whose outcome was unknown: it landed
    other.commit("plugin", {"n": "2"}, None)
    other.close()

    def refuse(*args: object) -> None:
        raise StoreError("unavailable")

    real, store.commit = store.commit, refuse  # type: ignore[method-assign]
    with pytest.raises(StoreError):
        state["x"] = 1
    store.commit = real  # type: ignore[method-assign]
    with state:
        state["n"] = state["n"] + 1
    assert reopened(store)["n"] == "3"


def test_reload_reads_what_another_writer_stored(store: SqliteStore) -> None:
    state = State(store, "plugin")
    store.commit("plugin", {"from": '"elsewhere"'}, None)
    assert "from" not in state
    state.reload()
    assert state["from"] == "elsewhere"


def test_the_generation_counts_each_load_from_the_store(store: SqliteStore) -> None:
    state = State(store, "plugin")
    state["n"] = 1
    assert state.generation == 1  # a commit is no load
    state.reload()
    assert state.generation == 2

    def refuse(*args: object) -> None:
        raise StoreError("unavailable")

    real, store.commit = store.commit, refuse  # type: ignore[method-assign]
    with pytest.raises(StoreError):
        state["n"] = 2
    store.commit = real  # type: ignore[method-assign]
    assert state.generation == 2
    with state:  # the next block reads the store again first
        assert state.generation == 3 and state["n"] == 1


def test_other_threads_read_committed_values_while_a_block_is_open(store: SqliteStore) -> None:
    state = State(store, "plugin")
    state["level"] = 1
    inside, release = threading.Event(), threading.Event()

    def writer() -> None:
        with state:
            state["level"] = 2
            inside.set()
            assert release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    assert inside.wait(10)
    read: list[object] = []
    reader = threading.Thread(target=lambda: read.append((state.get("level"), "level" in state)))
    reader.start()
    reader.join(5)
    blocked = reader.is_alive()
    release.set()
    thread.join(10)
    reader.join(10)
    assert not blocked, "a reader waited for another thread's open block"
    assert read == [(1, True)]
    assert state["level"] == 2
