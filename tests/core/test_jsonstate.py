"""The former ``<plugin>.json`` state files: imported into the store with no key lost,
kept beside, never imported twice; temporary files of killed writes removed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from univac.engine import sqlite_store
from univac.engine.jsonstate import clean_temporaries, import_file
from univac.engine.state import State
from univac.testing import Harness

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)


def open_store(folder: Path) -> sqlite_store.SqliteStore:
    store = sqlite_store.connect(sqlite_store.Settings(), folder)
    store.migrate()
    return store


def old_write(path: Path, data: dict[str, object]) -> None:
    """What the former state files looked like."""
    path.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.text(), JSON, max_size=30))
def test_no_key_is_lost_in_the_import(tmp_path_factory: pytest.TempPathFactory,
                                      data: dict[str, object]) -> None:
    folder = tmp_path_factory.mktemp("state")
    old_write(folder / "feeds.json", data)
    store = open_store(folder)
    try:
        assert import_file(store, "feeds", folder, None) == len(data)
        state = State(store, "feeds")
        keys = state.keys()
        assert sorted(keys) == sorted(data)
        assert {key: state[key] for key in keys} == data
    finally:
        store.close()


def test_a_large_file_is_imported_whole_and_kept_beside(tmp_path: Path) -> None:
    data = {f"seen:{n}": {"id": n, "title": f"item {n} ✓", "tags": ["a", None, 1.5]}
            for n in range(20_000)}
    old_write(tmp_path / "github.json", data)
    original = (tmp_path / "github.json").read_bytes()
    github = {"repos": ["owner/repo"], "targets": ["test:#test"]}
    with Harness("echo", "github", state_dir=tmp_path, settings={"github": github}) as harness:
        state = harness.bot.contexts["github"].state
        assert len(state.keys()) == 20_000
        assert all(state[key] == value for key, value in data.items())
    kept = list(tmp_path.glob("github.json.imported-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == original
    assert not (tmp_path / "github.json").exists()


def test_a_file_is_imported_once(tmp_path: Path) -> None:
    old_write(tmp_path / "plugin.json", {"n": 1})
    store = open_store(tmp_path)
    try:
        import_file(store, "plugin", tmp_path, None)
        State(store, "plugin")["n"] = 2
        assert import_file(store, "plugin", tmp_path, None) == 0
        assert State(store, "plugin")["n"] == 2
        old_write(tmp_path / "plugin.json", {"m": 3})  # a later file is kept beside too
        import_file(store, "plugin", tmp_path, None)
        assert len(list(tmp_path.glob("plugin.json.imported-*"))) == 2
    finally:
        store.close()


def test_a_corrupt_file_is_kept_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "plugin.json").write_text("{not json")
    store = open_store(tmp_path)
    try:
        assert import_file(store, "plugin", tmp_path, None) == 0
        assert State(store, "plugin").keys() == []
    finally:
        store.close()
    kept = list(tmp_path.glob("plugin.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_text() == "{not json"
    assert "unreadable" in caplog.text


def test_an_unreadable_file_disables_the_plugin_and_is_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "echo.json").mkdir()
    with Harness("echo", state_dir=tmp_path) as harness:
        assert "IsADirectoryError" in harness.errors["plugins.echo"]
        assert f"cannot read its former state file {tmp_path / 'echo.json'}" in \
            harness.errors["plugins.echo"]
    assert [r for r in caplog.records if r.exc_info] == []  # one clear line, no traceback
    assert (tmp_path / "echo.json").is_dir()
    assert list(tmp_path.glob("echo.json.*")) == []


def test_temporaries_of_killed_writes_are_removed_at_start(tmp_path: Path) -> None:
    leftovers = [tmp_path / ".feeds.json.k2j_9xq1", tmp_path / ".github.json.abcdefgh"]
    others = [tmp_path / "feeds.json.corrupt-1", tmp_path / ".hidden", tmp_path / "notes.json",
              tmp_path / ".feeds.json.tmp"]
    for path in leftovers + others:
        path.write_text("{")
    assert sorted(clean_temporaries(tmp_path)) == sorted(leftovers)
    assert all(path.exists() for path in others)
    (tmp_path / ".echo.json.zzzzzzzz").write_text("{")
    Harness("echo", state_dir=tmp_path).close()
    assert not (tmp_path / ".echo.json.zzzzzzzz").exists()


def test_the_rename_survives_in_the_folder(tmp_path: Path) -> None:
    old_write(tmp_path / "plugin.json", {"a": 1})
    store = open_store(tmp_path)
    try:
        import_file(store, "plugin", tmp_path, None)
    finally:
        store.close()
    names = os.listdir(tmp_path)
    assert "plugin.json" not in names
    assert any(name.startswith("plugin.json.imported-") for name in names)
