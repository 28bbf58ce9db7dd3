"""Settings dataclasses: every range problem under its own key, renamed settings, targets,
secrets inside list items."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from tests.core.test_config import issues_of, write
from univac import SettingsError, Target
from univac.config import load
from univac.logs import RedactingFormatter
from univac.settings import Source, fill
from univac.targets import problems

SOURCE = Source("bot.toml", Path("."), {"OLD_TOKEN": "from-env-1"})


@dataclass(frozen=True)
class Renamed:
    """A sample settings class that renamed two settings."""

    RENAMED: ClassVar[dict[str, str]] = {"reconnect_min": "reconnect_min_s",
                                         "auth": "auth_token"}

    reconnect_min_s: float = 2.0
    auth_token: str = ""
    keep: int = 1


def test_every_range_problem_of_bot_is_reported_with_its_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[bot]\nuser_rate = -1.0\nmax_reactive = 0\nprefix = 'a b'\n"
                           "audit_keep = 0\n")
    issues = issues_of(path)
    assert sorted(issues) == sorted(f"{path}: {key}" for key in (
        "bot.user_rate: must be at least 0", "bot.max_reactive: must be at least 1",
        "bot.prefix: must be non-empty and contain no spaces",
        "bot.audit_keep: must be at least 1"))


def test_transport_range_problems_name_the_entry_and_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[[transports]]\ntype = 'console'\n"
                           "[[transports]]\ntype = 'console'\nname = 'b'\n"
                           "[[transports]]\ntype = 'irc'\nhost = 'irc.example'\nport = 70000\n"
                           "flood_burst = 0\nmax_line_bytes = 100\n")
    issues = issues_of(path)
    assert f"{path}: transports[2].port: must be 0..65535" in issues
    assert f"{path}: transports[2].flood_burst: must be at least 1" in issues
    assert any(i.startswith(f"{path}: transports[2].max_line_bytes: ") for i in issues)
    assert len(issues) == 3


def test_a_plain_value_error_is_still_reported_under_the_table() -> None:
    @dataclass(frozen=True)
    class Old:
        port: int = 0

        def __post_init__(self) -> None:
            if self.port < 0:
                raise ValueError("port must not be negative")

    filled = fill(Old, {"port": -1}, SOURCE, "plugins.old")
    assert [str(i) for i in filled.issues] == ["bot.toml: plugins.old: port must not be negative"]
    assert isinstance(SettingsError({"a": "b"}), ValueError)


def test_an_old_name_works_as_the_new_one_with_a_warning() -> None:
    filled = fill(Renamed, {"reconnect_min": 5, "keep": 2}, SOURCE, "transports[0]")
    assert filled.value == Renamed(reconnect_min_s=5.0, keep=2)
    assert [str(w) for w in filled.warnings] == [
        "bot.toml: transports[0].reconnect_min: renamed to transports[0].reconnect_min_s; "
        "the old name still works"]
    assert filled.issues == []


def test_an_old_name_works_through_env_and_stays_secret() -> None:
    filled = fill(Renamed, {"auth_env": "OLD_TOKEN"}, SOURCE, "plugins.x")
    assert filled.value.auth_token == "from-env-1"
    assert "from-env-1" in filled.secrets
    assert "renamed to plugins.x.auth_token_env" in str(filled.warnings[0])


def test_both_the_old_and_the_new_name_is_an_error() -> None:
    filled = fill(Renamed, {"reconnect_min_s": 1, "reconnect_min": 5}, SOURCE, "t")
    assert filled.value is None
    assert [str(i) for i in filled.issues] == [
        "bot.toml: t.reconnect_min: both reconnect_min (the old name) and reconnect_min_s "
        "are given; keep only reconnect_min_s"]


@dataclass(frozen=True)
class Deprecated:
    """A sample settings class with a deprecated setting."""

    DEPRECATED: ClassVar[dict[str, str]] = {"state_file": "deprecated; remove it"}

    state_file: str = ""
    keep: int = 1


def test_a_deprecated_setting_still_works_with_a_warning_whenever_given() -> None:
    filled = fill(Deprecated, {"state_file": "old.json"}, SOURCE, "transports[0]")
    assert filled.value == Deprecated(state_file="old.json")
    assert [str(w) for w in filled.warnings] == [
        "bot.toml: transports[0].state_file: deprecated; remove it"]
    quiet = fill(Deprecated, {"keep": 2}, SOURCE, "transports[0]")
    assert quiet.value == Deprecated(keep=2) and quiet.warnings == []


def test_bot_audit_log_is_now_audit_file(tmp_path: Path) -> None:
    config = load(write(tmp_path, "[bot]\naudit_log = 'trail.jsonl'\n"))
    assert config.bot.audit_file == "trail.jsonl"
    assert [w.key for w in config.warnings] == ["bot.audit_log"]


@dataclass(frozen=True)
class Announcer:
    """A sample plugin's settings with targets in every shape the reader looks into."""

    targets: tuple[Target, ...] = ()
    alert: Target = "test:#alerts"
    routes: dict[str, tuple[Target, ...]] | None = None
    note: str = "irk:#not-a-target"


def test_target_settings_must_name_configured_transports() -> None:
    settings = Announcer(targets=("irc:#ok", "irk:#x", "#plain"), alert="irc:",
                         routes={"a/b": ("irc:#ok", "xmpp:room@muc")})
    found = problems(settings, {"irc", "test"})
    assert found == [
        ("targets", "item 1: 'irk:#x': no transport named 'irk'; did you mean 'irc'? "
                    "(configured: irc, test)"),
        ("targets", "item 2: '#plain' is not written transport:target, e.g. irc:#ops"),
        ("alert", "'irc:' is not written transport:target, e.g. irc:#ops"),
        ("routes", "'a/b': item 1: 'xmpp:room@muc': no transport named 'xmpp' "
                   "(configured: irc, test)"),
    ]
    assert problems(Announcer(targets=("test:#a",)), {"test"}) == []


def test_a_target_setting_on_an_unknown_transport_fails_check_with_its_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from univac.cli import main

    text = ("[bot]\nplugins = ['hooks']\n[plugins.hooks]\ntargets = ['irk:#x']\n"
            "repo_targets = { 'a/b' = ['console:#y', 'irc:#z'] }\n")
    path = write(tmp_path, text)
    assert main(["check", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert (f"{path}: plugins.hooks.targets: item 0: 'irk:#x': no transport named 'irk' "
            "(configured: console)") in err
    assert "plugins.hooks.repo_targets: 'a/b': item 1: 'irc:#z': no transport" in err
    assert "plugins.hooks" in load(path).plugin_issues[0].key  # disabled at run time too


@pytest.mark.parametrize("plugin", ["github", "gitlab", "feeds"])
def test_the_pollers_target_settings_are_checked_too(tmp_path: Path, plugin: str) -> None:
    text = f"[bot]\nplugins = ['{plugin}']\n[plugins.{plugin}]\ntargets = ['irk:#x']\n"
    config = load(write(tmp_path, text))
    assert any(i.key == f"plugins.{plugin}.targets" and "no transport named 'irk'" in i.reason
               for i in config.plugin_issues), config.plugin_issues


def test_secret_list_items_name_equals_secret_mask_the_secret_part_alone() -> None:
    @dataclass(frozen=True)
    class Rooms:
        room_passwords: tuple[str, ...] = ()

    filled = fill(Rooms, {"room_passwords": ["ops@muc.example=hunter22", "plain-secret"]},
                  SOURCE, "transports[0]")
    assert {"ops@muc.example=hunter22", "hunter22", "plain-secret"} <= set(filled.secrets)
    formatter = RedactingFormatter(filled.secrets)
    line = formatter.format(logging.LogRecord(
        "slixmpp", logging.DEBUG, __file__, 1, "SEND: <password>hunter22</password>", (), None))
    assert "hunter22" not in line and "<password>***</password>" in line
