"""Plugin command-line tools: ``univac NAME ARGS`` and ``plugin_settings``."""

from __future__ import annotations

from pathlib import Path

import pytest

from univac import ConfigError, cli, plugin_settings, plugincli, state_folder


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "univac.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_plugin_tool_gets_the_arguments_after_its_name(monkeypatch) -> None:
    seen: list[list[str]] = []

    def tool(argv: list[str]) -> int:
        seen.append(argv)
        return 7

    monkeypatch.setattr(plugincli, "find", lambda name: tool if name == "runbook" else None)
    assert cli.main(["runbook", "lint", "catalogue/"]) == 7
    assert seen == [["lint", "catalogue/"]]


def test_built_in_commands_and_options_are_never_taken_for_plugin_tools(monkeypatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(plugincli, "find", lambda name: asked.append(name))
    assert cli._plugin_tool(["check", "--config", "x.toml"]) is None
    assert cli._plugin_tool(["--config", "x.toml"]) is None
    assert cli._plugin_tool([]) is None
    assert asked == []


def test_plugin_settings_reads_the_plugins_table(tmp_path) -> None:
    path = write(tmp_path, '[bot]\nplugins = ["dns"]\n[plugins.dns]\ntimeout_s = 2.5\n')
    settings = plugin_settings("dns", path)
    assert settings.timeout_s == 2.5


def test_plugin_settings_names_the_key_of_a_bad_value(tmp_path) -> None:
    path = write(tmp_path, '[bot]\nplugins = ["dns"]\n[plugins.dns]\ntimeout_s = "soon"\n')
    with pytest.raises(ConfigError) as raised:
        plugin_settings("dns", path)
    assert "plugins.dns.timeout_s" in str(raised.value)


def test_plugin_settings_refuses_a_plugin_the_file_does_not_enable(tmp_path) -> None:
    path = write(tmp_path, '[bot]\nplugins = ["echo"]\n')
    with pytest.raises(ConfigError) as raised:
        plugin_settings("dns", path)
    assert "plugin 'dns' is not enabled" in str(raised.value)


def test_state_folder_is_found_as_the_bot_finds_it(tmp_path, monkeypatch) -> None:
    config = tmp_path / "etc" / "univac.toml"
    config.parent.mkdir()
    config.write_text('[bot]\nstate_dir = "../var/univac"\n[plugins.x]\ntoken_file = "gone"\n')
    assert state_folder(config) == tmp_path / "etc" / ".." / "var" / "univac"
    config.write_text("[bot]\n")
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/univac:/var/lib/other")
    assert state_folder(config) == Path("/var/lib/univac")
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_folder(str(config)) == tmp_path / "xdg" / "univac"
    monkeypatch.setenv("UNIVAC_CONFIG", str(config))
    assert state_folder() == tmp_path / "xdg" / "univac"


def test_state_folder_of_an_unreadable_file_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        state_folder(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[bot]\nstate_dir = 3\n")
    with pytest.raises(ConfigError, match="must be a folder name"):
        state_folder(bad)
