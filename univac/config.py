"""Read the one TOML configuration file into frozen dataclasses. Layer: core; start-up.

The file has seven parts, all optional (no file at all means: console transport and
the core plugins):

- ``[bot]``: the core's settings (``BotSettings``, in ``univac/botsettings.py``);
- ``[[transports]]``: a list; each entry has ``type`` (and ``name``, which defaults to
  the type), the rest is that transport's own ``Settings``;
- ``[plugins.<name>]``: each enabled plugin's own ``Settings``; its ``Target`` settings
  must name configured transports;
- ``[roles.<role>]`` and ``[access.<name>]``: who may run what (``engine/access.py``);
- ``[store]``: where state is kept (``univac/engine/store.py``);
- ``[ha]``: several instances, one active (``univac/engine/lease.py``).

Every problem is collected, not only the first. Problems with the core or a transport
stop start-up (``ConfigError``); a plugin's problem disables that plugin at run time and
fails ``univac check``. Old setting names are accepted with a warning (``warnings``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from univac import targets
from univac.botsettings import BotSettings
from univac.engine import lease, loader
from univac.engine.access import ANY_TRANSPORT, AccessRule, Roles
from univac.engine.store import StoreEntry, read_table
from univac.errors import ConfigError, ConfigIssue, PluginError
from univac.settings import Source, convert, did_you_mean, fill

TOP_LEVEL = ("bot", "transports", "plugins", "roles", "access", "store", "ha")


@dataclass(frozen=True)
class TransportEntry:
    """One ``[[transports]]`` entry, resolved to its module and filled settings."""

    name: str
    type: str
    module: ModuleType
    settings: Any


@dataclass(frozen=True)
class PluginEntry:
    """One enabled plugin: its module and filled settings (None when it has none)."""

    name: str
    module: ModuleType
    settings: Any


@dataclass(frozen=True)
class Config:
    """The whole configuration, read once at start."""

    file: str
    base_dir: Path
    bot: BotSettings
    transports: tuple[TransportEntry, ...]
    plugins: tuple[PluginEntry, ...]
    plugin_issues: tuple[ConfigIssue, ...]
    """Problems that disable a plugin at run time (and fail ``univac check``)."""
    secrets: frozenset[str]
    roles: Roles = field(default_factory=dict)
    access: dict[str, AccessRule] = field(default_factory=dict)
    store: StoreEntry = field(default_factory=StoreEntry)
    warnings: tuple[ConfigIssue, ...] = ()
    """Old setting names that still work: ``univac check`` and the start-up log show them."""
    ha: lease.HaSettings = field(default_factory=lease.HaSettings)


def load(path: Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read ``path`` (or the defaults when None); raise ConfigError on core problems."""
    if path is None:
        return from_mapping({}, Source("<defaults>", Path.cwd(), environ or os.environ))
    source = Source(str(path), path.resolve().parent, environ or os.environ)
    try:
        data = tomllib.loads(_decode(path.read_bytes(), str(path)))
    except OSError as error:
        raise ConfigError([ConfigIssue(str(path), "", error.strerror or str(error))]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([ConfigIssue(str(path), "", f"not valid TOML: {error}")]) from None
    return from_mapping(data, source)


def _decode(data: bytes, file: str) -> str:
    """The file's text; ConfigError naming the line and column of a byte that is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        reason = (f"not UTF-8: byte 0x{data[error.start]:02x} at line {line}, column {column}"
                  "; save the file as UTF-8")
        raise ConfigError([ConfigIssue(file, "", reason)]) from None


def from_mapping(data: Mapping[str, Any], source: Source) -> Config:
    """Build a Config from parsed TOML; raise ConfigError on core or transport problems."""
    core = _Reader(source)
    for key in data:
        if key not in TOP_LEVEL:
            core.issue(key, "unknown section" + did_you_mean(key, TOP_LEVEL))
    bot = core.fill(BotSettings, data.get("bot", {}), "bot")
    transports = _transports(data.get("transports", [{"type": "console"}]), core)
    roles = _roles(data.get("roles", {}), {t.name for t in transports}, core)
    access = _access(data.get("access", {}), roles, core)
    store = read_table(data.get("store", {}), core.fill, core.issue)
    ha = core.fill(lease.HaSettings, data.get("ha", {}), "ha")
    lease.check(ha, store.backend if store else "", store and store.module, core.issue)
    plugins = _Reader(source, transports={t.name for t in transports})
    entries = _plugins(bot or _fallback_bot(data.get("bot")), data.get("plugins", {}), plugins)
    if core.issues or bot is None:
        raise ConfigError(core.issues + plugins.issues)
    return Config(
        file=source.file,
        base_dir=source.base_dir,
        bot=bot,
        transports=transports,
        plugins=entries,
        plugin_issues=tuple(plugins.issues),
        secrets=frozenset(core.secrets + plugins.secrets),
        roles=roles,
        access=access,
        store=store or StoreEntry(),
        warnings=tuple(core.warnings + plugins.warnings),
        ha=ha or lease.HaSettings(),
    )


def _fallback_bot(table: Any) -> BotSettings:
    """Defaults, with the plugin lists of a [bot] table that is invalid elsewhere."""
    lists = {}
    for key in ("plugins", "plugin_dirs"):
        value = table.get(key) if isinstance(table, Mapping) else None
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            lists[key] = tuple(value)
    return BotSettings(**lists)


@dataclass
class _Reader:
    """Collects issues and secret values while tables are filled."""

    source: Source
    issues: list[ConfigIssue] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    warnings: list[ConfigIssue] = field(default_factory=list)
    transports: set[str] = field(default_factory=set)
    """Configured transport names, which ``Target`` settings must name."""

    def issue(self, key: str, reason: str) -> None:
        self.issues.append(ConfigIssue(self.source.file, key, reason))

    def fill(self, cls: type, table: Any, where: str) -> Any:
        if not isinstance(table, Mapping):
            self.issue(where, "expected a table")
            return None
        filled = fill(cls, table, self.source, where)
        self.issues.extend(filled.issues)
        self.secrets.extend(filled.secrets)
        self.warnings.extend(filled.warnings)
        return filled.value


def _roles(tables: Any, transports: set[str], reader: _Reader) -> Roles:
    if not isinstance(tables, Mapping):
        reader.issue("roles", "expected tables such as [roles.ops]")
        return {}
    roles: dict[str, dict[str, tuple[str, ...]]] = {}
    known = sorted(transports | {ANY_TRANSPORT})
    for role, table in tables.items():
        if not isinstance(table, Mapping):
            reader.issue(f"roles.{role}", "expected a table of transport = [patterns]")
            continue
        roles[role] = {}
        for transport, patterns in table.items():
            where = f"roles.{role}.{transport}"
            if transport not in known:
                reader.issue(where, "no such transport" + did_you_mean(transport, known))
            try:
                roles[role][transport] = convert(patterns, tuple[str, ...])
            except ValueError as error:
                reader.issue(where, str(error))
    return roles


def _access(tables: Any, roles: Roles, reader: _Reader) -> dict[str, AccessRule]:
    if not isinstance(tables, Mapping):
        reader.issue("access", "expected tables such as [access.deploy]")
        return {}
    rules = {name: reader.fill(AccessRule, t, f"access.{name}") for name, t in tables.items()}
    for name, rule in rules.items():
        if rule is not None and rule.requires and rule.requires not in roles:
            hint = did_you_mean(rule.requires, roles)
            reader.issue(f"access.{name}.requires", f"no role '{rule.requires}'{hint}")
    return {name: rule for name, rule in rules.items() if rule is not None}


def _transports(tables: Any, reader: _Reader) -> tuple[TransportEntry, ...]:
    if not isinstance(tables, list) or not tables:
        reader.issue("transports", "expected a non-empty list of [[transports]] tables")
        return ()
    entries: list[TransportEntry] = []
    for index, table in enumerate(tables):
        entry = _transport(index, table, reader)
        if entry and any(e.name == entry.name for e in entries):
            reader.issue(f"transports[{index}].name", f"duplicate transport name '{entry.name}'")
        elif entry:
            entries.append(entry)
    return tuple(entries)


def _transport(index: int, table: Any, reader: _Reader) -> TransportEntry | None:
    where = f"transports[{index}]"
    if not isinstance(table, Mapping) or not isinstance(table.get("type"), str):
        reader.issue(f"{where}.type", "missing: every transport needs a type, such as 'irc'")
        return None
    kind = table["type"]
    name = table.get("name", Path(kind).stem if kind.endswith(".py") else kind.split(".")[-1])
    if not isinstance(name, str) or not name.isidentifier():
        reader.issue(f"{where}.name", "must be a simple name (letters, digits, underscore)")
        return None
    try:
        module = loader.load_module(loader.TRANSPORT_GROUP, kind)
    except PluginError as error:
        reader.issue(f"{where}.type", f"transport {error}")
        return None
    rest = {k: v for k, v in table.items() if k not in ("type", "name")}
    settings = reader.fill(module.Settings, rest, where)
    return TransportEntry(name, kind, module, settings) if settings is not None else None


def _plugins(bot: BotSettings, tables: Any, reader: _Reader) -> tuple[PluginEntry, ...]:
    if not isinstance(tables, Mapping):
        reader.issue("plugins", "expected tables such as [plugins.dns]")
        tables = {}
    base_dir = reader.source.base_dir
    for index, folder in enumerate(bot.plugin_dirs):
        if not (path := base_dir / Path(folder).expanduser()).is_dir():
            reader.issue("bot.plugin_dirs", f"item {index}: no folder {path}")
    files = loader.folder_plugins(bot.plugin_dirs, base_dir)
    files |= {Path(n).stem: base_dir / Path(n).expanduser() for n in bot.plugins if _is_file(n)}
    names = list(dict.fromkeys(Path(n).stem if _is_file(n) else n for n in bot.plugins))
    names += [name for name in files if name not in names]
    for name in tables:
        if name not in names:
            hint = did_you_mean(name, names)
            reader.issue(f"plugins.{name}", f"settings for a plugin that is not enabled{hint}")
    entries = (_plugin(name, files.get(name), tables.get(name, {}), reader) for name in names)
    return tuple(entry for entry in entries if entry is not None)


def _is_file(name: str) -> bool:
    return name.endswith(".py")


def _plugin(name: str, path: Path | None, table: Any, reader: _Reader) -> PluginEntry | None:
    where = f"plugins.{name}"
    try:
        if path is not None:
            module = loader.load_file(path)
        else:
            module = loader.load_module(loader.PLUGIN_GROUP, name)
    except PluginError as error:
        reader.issue(where if path else "bot.plugins", f"plugin {error}")
        return None
    settings_class = getattr(module, "Settings", None)
    if settings_class is None:
        if table:
            reader.issue(where, f"plugin '{name}' takes no settings")
        return PluginEntry(name, module, None)
    settings = reader.fill(settings_class, table, where)
    if settings is None:
        return None
    bad_targets = targets.problems(settings, reader.transports)
    for key, reason in bad_targets:
        reader.issue(f"{where}.{key}", reason)
    return None if bad_targets else PluginEntry(name, module, settings)
