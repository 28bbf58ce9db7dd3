"""Configuration: defaults, every error path, secrets from files and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from univac.botsettings import CORE_PLUGINS
from univac.cli import main
from univac.config import load
from univac.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "univac.toml"
    path.write_text(text, encoding="utf-8")
    return path


def issues_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(path, environ={})
    return [str(issue) for issue in caught.value.issues]


def test_no_config_means_console_and_core_plugins() -> None:
    config = load(None)
    assert [t.type for t in config.transports] == ["console"]
    assert tuple(p.name for p in config.plugins) == CORE_PLUGINS
    assert config.plugin_issues == ()


def test_settings_are_frozen_dataclasses(tmp_path: Path) -> None:
    config = load(write(tmp_path, '[bot]\nprefix = "."\n'))
    assert config.bot.prefix == "."
    with pytest.raises(AttributeError):
        config.bot.prefix = "!"  # type: ignore[misc]


def test_several_transports_share_one_process(tmp_path: Path) -> None:
    path = write(tmp_path, '[[transports]]\ntype = "console"\n'
                           '[[transports]]\ntype = "console"\nname = "second"\nuser = "b"\n')
    config = load(path)
    assert [(t.name, t.type) for t in config.transports] == [
        ("console", "console"), ("second", "console")]
    assert config.transports[1].settings.user == "b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[bot\n", "not valid TOML"),
        ("[bots]\n", "bots: unknown section; did you mean 'bot'?"),
        ("[bot]\nprefx = '!'\n", "bot.prefx: unknown setting; did you mean 'prefix'?"),
        ("[bot]\nmax_reactive = 'many'\n", "bot.max_reactive: expected an integer, got a string"),
        ("[bot]\nmax_reactive = true\n", "bot.max_reactive: expected an integer, got a boolean"),
        ("[bot]\nuser_rate = 'x'\n", "bot.user_rate: expected a number, got a string"),
        ("[bot]\nplugins = 'help'\n", "bot.plugins: expected a list, got a string"),
        ("[bot]\nplugins = [1]\n", "bot.plugins: item 0: expected a string, got an integer"),
        ("[bot]\nlog_level = 'LOUD'\n", "bot.log_level: expected one of 'DEBUG'"),
        ("[bot]\nmax_reactive = 0\n", "bot.max_reactive: must be at least 1"),
        ("[bot]\nprefix = ''\n", "bot.prefix: must be non-empty"),
        ("bot = 3\n", "bot: expected a table"),
        ("transports = []\n", "transports: expected a non-empty list"),
        ("[[transports]]\nname = 'x'\n", "transports[0].type: missing"),
        ("[[transports]]\ntype = 'consol'\n", "did you mean 'console'?"),
        ("[[transports]]\ntype = 'console'\nname = 'a b'\n", "transports[0].name: must be"),
        ("[[transports]]\ntype = 'console'\nusr = 'x'\n", "transports[0].usr: unknown setting"),
        ("[[transports]]\ntype = 'console'\n[[transports]]\ntype = 'console'\n",
         "duplicate transport name 'console'"),
        ("[[transports]]\ntype = 'no.such.module'\n", "transports[0].type: transport cannot"),
    ],
)
def test_core_and_transport_errors_name_file_key_and_reason(
    tmp_path: Path, text: str, expected: str
) -> None:
    issues = issues_of(write(tmp_path, text))
    assert any(expected in issue for issue in issues), issues
    assert all(issue.startswith(str(tmp_path / "univac.toml")) for issue in issues)


def test_every_error_is_reported_not_only_the_first(tmp_path: Path) -> None:
    path = write(tmp_path, "[bot]\nprefx = 1\nqueue_size = 'x'\n"
                           "[[transports]]\ntype = 'consol'\n[plugins.ecko]\n")
    issues = issues_of(path)
    assert len(issues) == 4
    assert any("plugins.ecko" in issue and "did you mean 'echo'" in issue for issue in issues)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    assert "No such file" in issues_of(tmp_path / "absent.toml")[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[bot]\nplugins = ['ecko']\n", "bot.plugins: plugin unknown name 'ecko'; did you mean"),
        ("[plugins.echo]\nx = 1\n", "plugins.echo: plugin 'echo' takes no settings"),
        ("[plugins.nothere]\n", "plugins.nothere: settings for a plugin that is not enabled"),
        ("plugins = 3\n", "plugins: expected tables"),
    ],
)
def test_plugin_errors_disable_the_plugin_only(tmp_path: Path, text: str, expected: str) -> None:
    config = load(write(tmp_path, text))
    assert any(expected in str(issue) for issue in config.plugin_issues), config.plugin_issues


def test_plugin_settings_are_validated_by_their_dataclass(tmp_path: Path) -> None:
    plugin = tmp_path / "plugs" / "greet.py"
    plugin.parent.mkdir()
    plugin.write_text(
        "from dataclasses import dataclass\nfrom univac import command\n"
        "@dataclass(frozen=True)\nclass Settings:\n    greeting: str\n    times: int = 1\n"
        "@command\ndef greet(ctx):\n    return ctx.config.greeting * ctx.config.times\n"
    )
    bad = load(write(tmp_path, "[bot]\nplugin_dirs = ['plugs']\n[plugins.greet]\ntimes = 'x'\n"))
    reasons = [str(issue) for issue in bad.plugin_issues]
    assert any("plugins.greet.greeting: missing required setting" in r for r in reasons)
    assert any("plugins.greet.times: expected an integer" in r for r in reasons)
    text = "[bot]\nplugin_dirs = ['plugs']\n[plugins.greet]\ngreeting = 'hi'\n"
    good = load(write(tmp_path, text))
    assert [p.settings.greeting for p in good.plugins if p.name == "greet"] == ["hi"]


def test_secret_from_file_env_and_credentials_directory(tmp_path: Path) -> None:
    (tmp_path / "user.txt").write_text("from-file\n")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "user.txt").write_text("from-credentials\n")
    text = "[[transports]]\ntype = 'console'\nuser_file = 'user.txt'\n"
    path = write(tmp_path, text)
    assert load(path, environ={}).transports[0].settings.user == "from-file"
    with_creds = load(path, environ={"CREDENTIALS_DIRECTORY": str(creds)})
    assert with_creds.transports[0].settings.user == "from-credentials"
    from_env = write(tmp_path, "[[transports]]\ntype = 'console'\nuser_env = 'WHO'\n")
    config = load(from_env, environ={"WHO": "from-env"})
    assert config.transports[0].settings.user == "from-env"
    assert {"from-env"} <= config.secrets


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("user_file = 'absent'\n", "transports[0].user_file: cannot read"),
        ("user_env = 'ABSENT'\n", "environment variable ABSENT is not set"),
        ("user_file = 3\n", "transports[0].user_file: expected a string"),
        ("user = 'a'\nuser_env = 'WHO'\n", "'user' is given twice"),
    ],
)
def test_secret_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "[[transports]]\ntype = 'console'\n" + text)
    with pytest.raises(ConfigError) as caught:
        load(path, environ={"WHO": "x"})
    assert any(expected in str(issue) for issue in caught.value.issues)


def test_example_config_passes_check(capsys: pytest.CaptureFixture[str]) -> None:
    example = ROOT / "contrib" / "univac.example.toml"
    assert main(["check", "--config", str(example)]) == 0
    assert "OK" in capsys.readouterr().out


def commented_transports(example: str) -> dict[str, str]:
    """The commented ``[[transports]]`` tables of the example, uncommented, by type."""
    lines = example.split("\n# [[transports]]")[1:]
    tables = {}
    for block in lines:
        body = []
        for line in block.split("\n")[1:]:
            if not line.startswith("#") or line.strip() == "#":
                break
            body.append(line[2:])
        text = "[[transports]]\n" + "\n".join(body) + "\n"
        tables[text.split('type = "', 1)[1].split('"', 1)[0]] = text
    return tables


def test_the_example_s_commented_transport_tables_are_valid(tmp_path: Path) -> None:
    example = (ROOT / "univac" / "example.toml").read_text(encoding="utf-8")
    tables = commented_transports(example)
    assert set(tables) == {"irc", "xmpp", "matrix", "slack"}
    for name in ("irc-sasl", "xmpp-password", "matrix-password"):
        (tmp_path / name).write_text("secret-value\n", encoding="utf-8")
    (tmp_path / "slack-app-token").write_text("xapp-1-A-1-x\n", encoding="utf-8")
    (tmp_path / "slack-bot-token").write_text("xoxb-1-x\n", encoding="utf-8")
    for kind, table in tables.items():
        config = load(write(tmp_path, table), environ={})
        assert [t.type for t in config.transports] == [kind] and config.warnings == ()


def test_check_reports_all_errors_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[bot]\nprefx = 1\nplugins = ['help', 'ecko']\n")
    assert main(["check", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "bot.prefx: unknown setting" in err
    assert "ecko" in err
    assert "2 configuration error(s)" in err


def test_check_reports_plugin_code_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "plugs"
    folder.mkdir()
    (folder / "empty.py").write_text('"""A plugin with nothing in it."""\n')
    path = write(tmp_path, "[bot]\nplugin_dirs = ['plugs']\n")
    assert main(["check", "--config", str(path)]) == 1
    assert "no @command, @match, @every, @webhook or @on" in capsys.readouterr().err


def test_init_writes_the_example_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "new.toml"
    assert main(["init", str(target)]) == 0
    shipped = (ROOT / "contrib" / "univac.example.toml").read_text(encoding="utf-8")
    assert target.read_text(encoding="utf-8") == shipped
    assert main(["init", str(target)]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["check", "--config", str(target)]) == 0


def test_check_reports_access_rules_for_unknown_commands_and_roles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "[roles.ops]\nconsole = ['console:*']\n[access.restart]\nrequires = 'ops'\n"
    assert main(["check", "--config", str(write(tmp_path, text))]) == 1
    assert "access.restart: no such command or plugin" in capsys.readouterr().err
    text = "[access.echo]\nrequires = 'admins'\n"
    assert main(["check", "--config", str(write(tmp_path, text))]) == 1
    assert "access.echo.requires: no role 'admins'" in capsys.readouterr().err


def test_roles_name_configured_transports(tmp_path: Path) -> None:
    issues = issues_of(write(tmp_path, "[roles.ops]\nconsol = ['console:*']\n"))
    assert any("roles.ops.consol: no such transport; did you mean 'console'?" in i
               for i in issues)


def test_lists_under_secret_names_are_masked_too(tmp_path: Path) -> None:
    plugin = tmp_path / "vault.py"
    plugin.write_text(
        "from dataclasses import dataclass\nfrom univac import command\n"
        "@dataclass(frozen=True)\nclass Settings:\n    room_passwords: tuple[str, ...] = ()\n"
        "@command\ndef vault(ctx):\n    return 'ok'\n"
    )
    text = "[bot]\nplugins = ['vault.py']\n[plugins.vault]\nroom_passwords = ['s3cret-one']\n"
    assert "s3cret-one" in load(write(tmp_path, text)).secrets


def test_every_bot_setting_is_documented_and_in_the_example() -> None:
    import dataclasses
    import re

    from univac.botsettings import BotSettings

    reference = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    example = (ROOT / "contrib" / "univac.example.toml").read_text(encoding="utf-8")
    for field in dataclasses.fields(BotSettings):
        assert f"`{field.name}`" in reference, field.name
        assert re.search(rf"^{field.name} =", example, re.MULTILINE), field.name
