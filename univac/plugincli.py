"""Command-line tools of plugins: ``univac runbook lint DIR``, ``univac incidents gate``.

Layer: core (plugin API); the ``univac`` process's main thread, no bot running.

A plugin (or any installed package) adds a subcommand with an entry point in the group
``univac.commands``: its name is the subcommand, its object a function
``main(argv: list[str]) -> int`` that gets the arguments after the name and returns the
exit code. ``plugin_settings`` reads that plugin's settings from the configuration file
the same way the bot does (secrets from ``_file``/``_env``, every problem reported), and
masks the configuration's secrets in the log from then on. ``state_folder`` is the
bot's state folder for that configuration (a plugin's files are in ``<it>/<plugin>``,
where ``ctx.data_dir`` puts them in the running bot).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from univac.errors import ConfigError, ConfigIssue

COMMAND_GROUP = "univac.commands"
Main = Callable[[list[str]], int]


def find(name: str) -> Main | None:
    """The ``main`` of the installed subcommand ``name``, or None when there is none."""
    from importlib.metadata import entry_points  # only for names that are not built in

    found = entry_points(group=COMMAND_GROUP).select(name=name)
    return next(iter(found)).load() if found else None


def names() -> list[str]:
    """Every installed subcommand, sorted (for ``univac --help``)."""
    from importlib.metadata import entry_points

    return sorted(set(entry_points(group=COMMAND_GROUP).names))


def plugin_settings(plugin: str, config: Path | str | None = None) -> Any:
    """The settings of ``plugin`` (its ``Settings`` dataclass) from the configuration file.

    ``config`` defaults to ``$UNIVAC_CONFIG``. Raises ``ConfigError`` with every problem
    (of the core tables, or of the plugin's own table); a plugin the file does not
    enable is an error too, since its table would be ignored by the bot.
    """
    from univac import logs
    from univac.config import load

    path = Path(config) if config else _default_path()
    loaded = load(path)
    logs.mask_everywhere(loaded.secrets)
    issues = [i for i in loaded.plugin_issues if i.key.split(".")[:2] == ["plugins", plugin]]
    if issues:
        raise ConfigError(issues)
    for entry in loaded.plugins:
        if entry.name == plugin:
            return entry.settings
    where = str(path) if path else "<defaults>"
    raise ConfigError([ConfigIssue(where, "bot.plugins", f"plugin '{plugin}' is not enabled")])


def state_folder(config: Path | str | None = None) -> Path:
    """The state folder the bot uses with the configuration file ``config`` (default
    ``$UNIVAC_CONFIG``; none: the defaults). Reads only ``[bot] state_dir``, so a tool
    works where the bot's secrets are not at hand; ``ConfigError`` when the file cannot
    be read."""
    import tomllib

    from univac.statefolder import state_folder_of

    path = Path(config) if config else _default_path()
    if path is None:
        return state_folder_of("", Path.cwd())
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("bot", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError([ConfigIssue(str(path), "bot", f"cannot read it: {error}")]) from None
    configured = table.get("state_dir", "") if isinstance(table, dict) else ""
    if not isinstance(configured, str):
        raise ConfigError([ConfigIssue(str(path), "bot.state_dir", "must be a folder name")])
    return state_folder_of(configured, path.resolve().parent)


def _default_path() -> Path | None:
    value = os.environ.get("UNIVAC_CONFIG")
    return Path(value) if value else None
