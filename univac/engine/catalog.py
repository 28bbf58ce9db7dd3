"""Turn a plugin module into handlers, and index them. Layer: core; start-up thread.

The loader inspects a module's functions for the specs ``@command``, ``@match``,
``@every`` and ``@webhook`` attached, and for the optional hooks ``setup(ctx)`` and
``teardown()``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from types import ModuleType
from typing import Any

from univac.arguments import Signature, signature_of, usage
from univac.botview import CommandInfo
from univac.decorators import CommandSpec, EverySpec, MatchSpec, Spec, WebhookSpec, spec_of
from univac.errors import PluginError


@dataclass(frozen=True)
class Handler:
    """A decorated function of a plugin, ready to call."""

    plugin: str
    func: Callable[..., Any]
    spec: Spec
    signature: Signature | None = None

    @cached_property  # asked for on every handled message
    def label(self) -> str:
        """``plugin.function``: thread names, logs and poller names use it."""
        return f"{self.plugin}.{self.func.__name__}"

    def info(self) -> CommandInfo:
        """How ``help`` shows this command."""
        assert isinstance(self.spec, CommandSpec) and self.signature is not None
        doc = inspect.getdoc(self.func) or ""
        summary, _, details = doc.partition("\n")
        return CommandInfo(
            self.spec.name, self.spec.aliases, usage(self.spec.name, self.signature),
            summary.strip(), details.strip(), self.plugin,
        )


@dataclass(frozen=True)
class Plugin:
    """One loaded plugin: its handlers and hooks."""

    name: str
    module: ModuleType
    settings: Any
    handlers: tuple[Handler, ...]
    setup: Callable[..., Any] | None
    teardown: Callable[[], Any] | None

    def of_kind(self, kind: type) -> list[Handler]:
        return [h for h in self.handlers if isinstance(h.spec, kind)]


def inspect_plugin(name: str, module: ModuleType, settings: Any) -> Plugin:
    """Collect a module's handlers and hooks; PluginError when something is malformed."""
    handlers = []
    for func in _functions(module):
        spec = spec_of(func)
        if spec is not None:
            if isinstance(spec, WebhookSpec) and len(inspect.signature(func).parameters) != 2:
                raise PluginError(f"webhook {func.__name__}() must take (ctx, request)")
            signature = signature_of(func) if isinstance(spec, CommandSpec) else None
            handlers.append(Handler(name, func, spec, signature))
    setup = _hook(module, "setup", 1)
    teardown = _hook(module, "teardown", 0)
    if not handlers and setup is None:
        raise PluginError(f"plugin '{name}' has no @command, @match or @every function, "
                          "no @webhook and no setup()")
    return Plugin(name, module, settings, tuple(handlers), setup, teardown)


def _functions(module: ModuleType) -> Iterable[Callable[..., Any]]:
    for value in vars(module).values():
        if inspect.isfunction(value) and value.__module__ == module.__name__:
            yield value


def _hook(module: ModuleType, name: str, arity: int) -> Callable[..., Any] | None:
    hook = getattr(module, name, None)
    if hook is None:
        return None
    if not callable(hook) or len(inspect.signature(hook).parameters) != arity:
        raise PluginError(f"{name}() must take {arity} argument(s)")
    return hook


class Catalog:
    """Every enabled plugin's commands (by name and alias), matchers, pollers, webhooks."""

    def __init__(self) -> None:
        self.plugins: dict[str, Plugin] = {}
        self.commands: dict[str, Handler] = {}
        self.matchers: list[Handler] = []
        self.pollers: list[Handler] = []
        self.webhooks: dict[str, Handler] = {}

    def add(self, plugin: Plugin) -> None:
        """Index ``plugin``; PluginError (and nothing added) on a name clash."""
        commands = plugin.of_kind(CommandSpec)
        names = {n.casefold(): h for h in commands for n in (h.spec.name, *h.spec.aliases)}
        clashes = sorted(n for n in names if n in self.commands)
        if clashes or len(names) < sum(1 + len(h.spec.aliases) for h in commands):
            owner = self.commands[clashes[0]].plugin if clashes else plugin.name
            raise PluginError(f"command name clash in '{plugin.name}' with '{owner}'")
        hooks = self._webhooks(plugin)
        self.plugins[plugin.name] = plugin
        self.commands.update(names)
        self.matchers.extend(plugin.of_kind(MatchSpec))
        self.pollers.extend(plugin.of_kind(EverySpec))
        self.webhooks.update(hooks)

    def _webhooks(self, plugin: Plugin) -> dict[str, Handler]:
        """The plugin's webhooks by path; PluginError when a path is taken."""
        found: dict[str, Handler] = {}
        for handler in plugin.of_kind(WebhookSpec):
            path = handler.spec.path  # type: ignore[union-attr]
            owner = self.webhooks.get(path) or found.get(path)
            if owner is not None:
                raise PluginError(f"webhook path clash in '{plugin.name}': {path} "
                                  f"is taken by '{owner.label}'")
            found[path] = handler
        return found

    def command(self, name: str) -> Handler | None:
        return self.commands.get(name.casefold())

    def unique_commands(self) -> list[Handler]:
        """Each command handler once (the index also holds aliases)."""
        return list({id(h): h for h in self.commands.values()}.values())
