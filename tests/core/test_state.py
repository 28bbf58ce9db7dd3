"""Persistent plugin state: atomic writes, transactions, corrupt files kept aside."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from univac.engine.state import State


def test_values_persist(tmp_path: Path) -> None:
    path = tmp_path / "plugin.json"
    state = State(path)
    state["seen"] = [1, 2]
    assert json.loads(path.read_text()) == {"seen": [1, 2]}
    assert State(path)["seen"] == [1, 2]
    del state["seen"]
    assert "seen" not in State(path)


def test_a_transaction_writes_once_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "plugin.json"
    state = State(path)
    with state:
        state["a"] = 1
        state["b"] = 2
        assert not path.exists()
    assert json.loads(path.read_text()) == {"a": 1, "b": 2}


def test_concurrent_increments_are_not_lost(tmp_path: Path) -> None:
    state = State(tmp_path / "plugin.json")

    def bump() -> None:
        for _ in range(50):
            with state:
                state["n"] = state.get("n", 0) + 1

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert State(tmp_path / "plugin.json")["n"] == 200


def test_a_corrupt_file_is_kept_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "plugin.json"
    path.write_text("{not json")
    state = State(path)
    assert state.keys() == []
    kept = list(tmp_path.glob("plugin.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_text() == "{not json"
    assert "unreadable" in caplog.text


def test_unserialisable_values_fail_without_damaging_the_file(tmp_path: Path) -> None:
    path = tmp_path / "plugin.json"
    state = State(path)
    state["ok"] = 1
    with pytest.raises(TypeError):
        state["bad"] = object()
    assert json.loads(path.read_text()) == {"ok": 1}
    assert list(tmp_path.glob(".plugin.json.*")) == []


def test_an_unreadable_file_is_an_error_not_corruption(tmp_path: Path) -> None:
    path = tmp_path / "plugin.json"
    path.mkdir()
    with pytest.raises(OSError):
        State(path)
    assert list(tmp_path.glob("plugin.json.corrupt-*")) == []
