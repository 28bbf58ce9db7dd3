"""Turn a plugin module into handlers, and index them. Layer: core; start-up thread.

The loader inspects a module's functions for the specs ``@command``, ``@match``,
``@every``, ``@webhook`` and ``@on`` attached, and makes one handler of the matching
kind of each (``CommandHandler``, ``MatchHandler``, ``PollHandler``,
``WebhookHandler``, ``ListenerHandler``, called at the boundaries of
``univac/engine/handlers.py``); a poller's schedule is
read from the plugin's settings here when it names one. The optional hooks:
``setup(ctx)``, which may return the plugin's teardown (a function of no arguments),
and the older module-level ``teardown()``.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from univac.arguments import Signature, signature_of, usage
from univac.botview import CommandInfo
from univac.decorators import CommandSpec, EverySpec, MatchSpec, OnSpec, WebhookSpec, spec_of
from univac.errors import PluginError
from univac.schedules import Schedule, schedule_of


def label_of(plugin: str, func: Callable[..., object]) -> str:
    """``plugin.function``: thread names, logs, access rules and poller names use it."""
    return f"{plugin}.{func.__name__}"


@dataclass(frozen=True)
class CommandHandler:
    """A ``@command`` function and its argument parser."""

    plugin: str
    func: Callable[..., object]
    spec: CommandSpec
    signature: Signature
    label: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", label_of(self.plugin, self.func))

    def info(self) -> CommandInfo:
        """How ``help`` shows this command."""
        summary, _, details = (inspect.getdoc(self.func) or "").partition("\n")
        return CommandInfo(self.spec.name, self.spec.aliases, usage(self.spec.name, self.signature),
                           summary.strip(), details.strip(), self.plugin)


@dataclass(frozen=True)
class MatchHandler:
    """A ``@match`` function; ``first_only`` when it takes one ``re.Match`` (the old form)."""

    plugin: str
    func: Callable[..., object]
    spec: MatchSpec
    first_only: bool = False
    label: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", label_of(self.plugin, self.func))


@dataclass(frozen=True)
class PollHandler:
    """An ``@every`` function and its schedule (read from the settings if need be)."""

    plugin: str
    func: Callable[..., object]
    spec: EverySpec
    schedule: Schedule
    label: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", label_of(self.plugin, self.func))


@dataclass(frozen=True)
class WebhookHandler:
    """A ``@webhook`` function."""

    plugin: str
    func: Callable[..., object]
    spec: WebhookSpec
    label: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", label_of(self.plugin, self.func))


@dataclass(frozen=True)
class ListenerHandler:
    """An ``@on`` function: called for each plugin event of its topic."""

    plugin: str
    func: Callable[..., object]
    spec: OnSpec
    label: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", label_of(self.plugin, self.func))


Handler = CommandHandler | MatchHandler | PollHandler | WebhookHandler | ListenerHandler


@dataclass(frozen=True)
class Plugin:
    """One loaded plugin: its handlers, by kind, and its hooks."""

    name: str
    module: ModuleType
    settings: Any
    commands: tuple[CommandHandler, ...]
    matchers: tuple[MatchHandler, ...]
    pollers: tuple[PollHandler, ...]
    webhooks: tuple[WebhookHandler, ...]
    setup: Callable[..., Any] | None
    teardown: Callable[[], Any] | None
    report: Callable[..., Any] | None = None
    """The optional hook ``report(ctx) -> str``: a line for ``!status`` and ``/healthz``."""
    listeners: tuple[ListenerHandler, ...] = ()

    @property
    def handlers(self) -> tuple[Handler, ...]:
        """Every handler, of every kind."""
        return (*self.commands, *self.matchers, *self.pollers, *self.webhooks, *self.listeners)


def inspect_plugin(name: str, module: ModuleType, settings: Any) -> Plugin:
    """Collect a module's handlers and hooks; PluginError when something is malformed."""
    found = [_handler(name, func, spec, settings)
             for func in _functions(module) if (spec := spec_of(func)) is not None
             and _enabled(name, func, spec, settings)]
    setup = _hook(module, "setup", 1)
    teardown = _hook(module, "teardown", 0)
    report = _hook(module, "report", 1)
    if not found and setup is None:
        raise PluginError(f"plugin '{name}' has no @command, @match, @every, @webhook "
                          "or @on function and no setup()")
    return Plugin(
        name, module, settings,
        tuple(h for h in found if isinstance(h, CommandHandler)),
        tuple(h for h in found if isinstance(h, MatchHandler)),
        tuple(h for h in found if isinstance(h, PollHandler)),
        tuple(h for h in found if isinstance(h, WebhookHandler)),
        setup, teardown, report,
        tuple(h for h in found if isinstance(h, ListenerHandler)),
    )


def _enabled(plugin: str, func: Callable[..., Any], spec: object, settings: Any) -> bool:
    """False for a command whose ``enabled_by`` setting is off; PluginError for a name
    that is no boolean setting of the plugin."""
    setting = getattr(spec, "enabled_by", "")
    if not setting:
        return True
    value = getattr(settings, setting, None)
    if not isinstance(value, bool):
        raise PluginError(f"{func.__name__}(): enabled_by={setting!r} names no boolean "
                          f"setting of plugin '{plugin}'")
    return value


def _handler(plugin: str, func: Callable[..., Any], spec: object, settings: Any) -> Handler:
    """The handler of the right kind for one decorated function."""
    if isinstance(spec, CommandSpec):
        return CommandHandler(plugin, func, spec, signature_of(func))
    if isinstance(spec, MatchSpec):
        _arity(func, "@match", "(ctx, matches)")
        return MatchHandler(plugin, func, spec, _takes_one_match(func))
    if isinstance(spec, EverySpec):
        return PollHandler(plugin, func, spec, _schedule(plugin, func, spec, settings))
    if isinstance(spec, OnSpec):
        _arity(func, "@on", "(ctx, event)")
        return ListenerHandler(plugin, func, spec)
    assert isinstance(spec, WebhookSpec)
    _arity(func, "webhook", "(ctx, request)")
    return WebhookHandler(plugin, func, spec)


def _arity(func: Callable[..., Any], kind: str, shape: str) -> None:
    if len(inspect.signature(func).parameters) != 2:
        raise PluginError(f"{kind} {func.__name__}() must take {shape}")


def _takes_one_match(func: Callable[..., Any]) -> bool:
    """True when the second parameter is annotated ``re.Match`` (the form before lists)."""
    param = list(inspect.signature(func).parameters.values())[1]
    try:
        hint = typing.get_type_hints(func).get(param.name)
    except (NameError, TypeError, AttributeError, SyntaxError):  # unresolvable: read the text
        text = param.annotation if isinstance(param.annotation, str) else ""
        return text.split("[")[0].endswith("Match")
    return (typing.get_origin(hint) or hint) is re.Match


def _schedule(plugin: str, func: Callable[..., Any], spec: EverySpec, settings: Any) -> Schedule:
    """The poller's schedule: the decorator's, or the value of the setting it names."""
    if spec.schedule is not None:
        return spec.schedule
    where = f"{func.__name__}: @every(setting={spec.setting!r})"
    if not hasattr(settings, spec.setting):
        raise PluginError(f"{where}: the settings of '{plugin}' have no {spec.setting!r}")
    try:
        return schedule_of(getattr(settings, spec.setting))
    except (TypeError, ValueError) as error:
        raise PluginError(f"{where}: {error}") from None


def _functions(module: ModuleType) -> Iterable[Callable[..., Any]]:
    for value in vars(module).values():
        if inspect.isfunction(value) and value.__module__ == module.__name__:
            yield value


def _hook(module: ModuleType, name: str, arity: int) -> Callable[..., Any] | None:
    hook = getattr(module, name, None)
    if hook is None or spec_of(hook) is not None:  # a handler of that name is no hook
        return None
    if not callable(hook) or len(inspect.signature(hook).parameters) != arity:
        raise PluginError(f"{name}() must take {arity} argument(s)")
    return hook


class Catalog:
    """Every enabled plugin's commands (by name and alias), matchers, pollers, webhooks
    and listeners (by topic)."""

    def __init__(self) -> None:
        self.plugins: dict[str, Plugin] = {}
        self.commands: dict[str, CommandHandler] = {}
        self.matchers: list[MatchHandler] = []
        self.pollers: list[PollHandler] = []
        self.webhooks: dict[str, WebhookHandler] = {}
        self.listeners: dict[str, list[ListenerHandler]] = {}

    def add(self, plugin: Plugin) -> None:
        """Index ``plugin``; PluginError (and nothing added) on a name clash."""
        commands = plugin.commands
        names = {n.casefold(): h for h in commands for n in (h.spec.name, *h.spec.aliases)}
        clashes = sorted(n for n in names if n in self.commands)
        if clashes or len(names) < sum(1 + len(h.spec.aliases) for h in commands):
            owner = self.commands[clashes[0]].plugin if clashes else plugin.name
            raise PluginError(f"command name clash in '{plugin.name}' with '{owner}'")
        hooks = self._webhooks(plugin)
        self.plugins[plugin.name] = plugin
        self.commands.update(names)
        self.matchers.extend(plugin.matchers)
        self.pollers.extend(plugin.pollers)
        self.webhooks.update(hooks)
        for listener in plugin.listeners:
            self.listeners.setdefault(listener.spec.topic, []).append(listener)

    def _webhooks(self, plugin: Plugin) -> dict[str, WebhookHandler]:
        """The plugin's webhooks by path; PluginError when a path is taken."""
        found: dict[str, WebhookHandler] = {}
        for handler in plugin.webhooks:
            path = handler.spec.path
            owner = self.webhooks.get(path) or found.get(path)
            if owner is not None:
                raise PluginError(f"webhook path clash in '{plugin.name}': {path} "
                                  f"is taken by '{owner.label}'")
            found[path] = handler
        return found

    def command(self, name: str) -> CommandHandler | None:
        return self.commands.get(name.casefold())

    def unique_commands(self) -> list[CommandHandler]:
        """Each command handler once (the index also holds aliases)."""
        return list({id(h): h for h in self.commands.values()}.values())
