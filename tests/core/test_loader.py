"""Plugins load by built-in name, entry point, dotted module name and plain file."""

from __future__ import annotations

from pathlib import Path

import pytest

from univac.engine import loader
from univac.errors import PluginError


def test_built_in_names_resolve_to_the_built_in_package() -> None:
    module = loader.load_module(loader.PLUGIN_GROUP, "echo")
    assert module.__name__ == "univac.plugins.echo"
    assert "echo" in loader.known(loader.PLUGIN_GROUP)
    assert "console" in loader.known(loader.TRANSPORT_GROUP)


def test_other_names_resolve_through_installed_entry_points(monkeypatch) -> None:
    from importlib import metadata

    kit = metadata.EntryPoint("kit", "tests.core.sample_plugins.kit", loader.PLUGIN_GROUP)

    def entry_points(group: str) -> metadata.EntryPoints:
        return metadata.EntryPoints([kit] if group == loader.PLUGIN_GROUP else [])

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    module = loader.load_module(loader.PLUGIN_GROUP, "kit")
    assert module.__name__ == "tests.core.sample_plugins.kit"
    assert "kit" in loader.known(loader.PLUGIN_GROUP)
    with pytest.raises(PluginError, match="unknown name 'kti'; did you mean 'kit'"):
        loader.load_module(loader.PLUGIN_GROUP, "kti")


def test_dotted_names_import_any_module() -> None:
    module = loader.load_module(loader.PLUGIN_GROUP, "tests.core.sample_plugins.kit")
    assert hasattr(module, "add")


def test_unknown_names_suggest_the_closest() -> None:
    with pytest.raises(PluginError, match="unknown name 'ehco'; did you mean 'echo'"):
        loader.load_module(loader.PLUGIN_GROUP, "ehco")


def test_missing_dotted_modules_are_unknown_and_broken_ones_say_why() -> None:
    with pytest.raises(PluginError, match=r"unknown name 'tests\.core\.nosuch'"):
        loader.load_module(loader.PLUGIN_GROUP, "tests.core.nosuch")
    broken = "tests.core.sample_plugins.needs_lib"
    with pytest.raises(PluginError, match=r"cannot import '[\w.]+needs_lib'"):
        loader.load_module(loader.PLUGIN_GROUP, broken)


def test_every_python_file_in_a_folder_is_a_plugin(tmp_path: Path) -> None:
    (tmp_path / "hello.py").write_text("X = 1\n")
    (tmp_path / "_private.py").write_text("X = 2\n")
    (tmp_path / "notes.txt").write_text("not a plugin\n")
    found = loader.folder_plugins(("plugs",), tmp_path.parent / "x") or {}
    assert found == {}
    assert loader.folder_plugins((str(tmp_path),), Path("/")) == {"hello": tmp_path / "hello.py"}
    assert loader.load_file(tmp_path / "hello.py").X == 1


def test_a_file_that_fails_to_import_is_a_plugin_error(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("1 / 0\n")
    with pytest.raises(PluginError, match="ZeroDivisionError"):
        loader.load_file(tmp_path / "bad.py")
