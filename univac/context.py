"""The Context a handler receives: the whole world it may touch. Layer: core.

A new Context is made for each message, poller run or setup call and used on that
one thread; ``state`` is shared by the plugin's handlers and locks itself.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Generic, TypeVar

from univac.botview import BotView
from univac.engine.access import Access
from univac.engine.approvals import Approval, Approvals
from univac.engine.router import Router, requester
from univac.engine.state import State
from univac.host import HostInfo
from univac.message import Message
from univac.ops.audit import AuditLog
from univac.ops.plugin_metrics import PluginMetrics

S = TypeVar("S")
"""The plugin's settings dataclass: ``ctx: Context[Settings]`` types ``ctx.config``."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    """What every context of one bot shares."""

    router: Router
    bot: BotView
    host: HostInfo
    approvals: Approvals
    audit: AuditLog
    access: Access
    metrics: PluginMetrics
    clock: Callable[[], datetime] = utc_now
    mask: Callable[[str], None] = lambda secret: None
    folder: Path = Path()
    """The bot's state folder; each plugin's data folder is inside it."""
    emit: Callable[[str, str, Mapping[str, Any]], int] = lambda source, topic, fields: 0


class Context(Generic[S]):
    """What a handler gets as its first argument.

    ``message`` (None in pollers, webhooks and ``setup``), ``config`` (the plugin's
    settings dataclass, or None; annotate ``ctx: Context[Settings]`` and type checkers
    know it), ``state``, ``log``, ``bot`` (``commands()``,
    ``status()``, ``metrics()``, ``webhooks()``), ``host`` (``name``, ``addresses``),
    ``transport``, ``reply()``, ``say()``, ``now()``, ``approve()``, ``confirm()``,
    ``audit()``, ``shared``, ``data_dir``, ``mask()``, ``emit()``.
    """

    __slots__ = ("_services", "config", "log", "message", "plugin", "shared", "state")

    def __init__(
        self, plugin: str, *, config: S, state: State, services: Services,
        message: Message | None = None, log: logging.Logger | None = None,
        shared: SimpleNamespace | None = None,
    ) -> None:
        self.plugin = plugin
        self.config = config
        self.state = state
        self.log = log or logging.getLogger(f"univac.plugin.{plugin}")
        self.message = message
        self.shared = SimpleNamespace() if shared is None else shared
        """What ``setup`` made for the handlers (a service, a connection): one namespace
        per plugin, shared by all its contexts, in memory only (``state`` persists)."""
        self._services = services

    def derive(
        self, message: Message | None = None, clock: Callable[[], datetime] | None = None
    ) -> Context[S]:
        """A copy of this context for one message (and, in tests, another clock)."""
        services = dataclasses.replace(self._services, clock=clock) if clock else self._services
        return Context(self.plugin, config=self.config, state=self.state,
                       services=services, message=message, log=self.log, shared=self.shared)

    @property
    def data_dir(self) -> Path:
        """The plugin's own folder for files it keeps (journals, artifacts):
        ``<state folder>/<plugin>``, made (mode 0700) when first asked for."""
        folder = self._services.folder / self.plugin
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return folder

    def mask(self, secret: str) -> None:
        """Treat a value learnt at run time (a token, a password read from a file) as a
        secret: masked in every log line and chat line from now on."""
        self._services.mask(secret)

    @property
    def bot(self) -> BotView:
        return self._services.bot

    @property
    def host(self) -> HostInfo:
        return self._services.host

    @property
    def transport(self) -> str | None:
        """The name of the transport the message came from (None in pollers)."""
        return self.message.transport if self.message else None

    def now(self) -> datetime:
        """The current time (UTC); tests can set it."""
        return self._services.clock()

    def reply(self, text: str) -> None:
        """Answer where the message came from: its channel, or the sender in private."""
        message = self._need_message("reply")
        if text:
            self._services.router.send(message.transport, message.target, str(text),
                                       requester(message))

    def say(self, target: str, text: str) -> None:
        """Send to ``target``: ``"#chan"`` on this transport, or ``"irc:#chan"``."""
        transport, where = self._services.router.resolve(target, self.transport)
        if text:
            self._services.router.send(transport, where, str(text), requester(self.message))

    def count(self, name: str, amount: float = 1, **labels: str) -> None:
        """Add to the plugin's counter ``name`` (exported as ``name_total`` on /metrics)."""
        self._services.metrics.count(self.plugin, name, amount, labels)

    def gauge(self, name: str, value: float, **labels: str) -> None:
        """Set the plugin's gauge ``name`` (a level: queue length, quota left)."""
        self._services.metrics.gauge(self.plugin, name, value, labels)

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        """Record a duration in the plugin's histogram ``name`` (seconds)."""
        self._services.metrics.observe(self.plugin, name, seconds, labels)

    def has_role(self, role: str) -> bool:
        """Whether the sender of the message holds ``role`` (``[roles]``; False in pollers).

        For a plugin that decides per subcommand or per object who may do what; a
        command that needs one role for everything says ``@command(requires=...)``.
        """
        return self.message is not None and self._services.access.has_role(role, self.message)

    def approve(self, action: str, *, approvals: int = 1, ttl_s: float = 300.0,
                role: str = "approvers", self_approve: bool = False) -> Approval:
        """Ask holders of ``role`` to approve ``action``; wait for the outcome.

        Returns ``"approved"``, ``"denied"`` or ``"expired"`` (after ``ttl_s``), a ``str``
        whose ``request``, ``approvers`` (identities, in order) and ``denied_by`` say who
        answered.
        """
        message = self._need_message("approve")
        return self._services.approvals.ask(
            message, action, self.reply, approvals, ttl_s, role, self_approve)

    def confirm(self, question: str, *, timeout_s: float = 60.0) -> bool | None:
        """Ask the sender yes or no; True, False, or None when they did not answer."""
        message = self._need_message("confirm")
        return self._services.approvals.confirm(message, question, self.reply, timeout_s)

    def decide(self, request: int, approve: bool) -> str:
        """Answer approval request number ``request`` (the approvals plugin uses it)."""
        message = self._need_message("decide")
        return self._services.approvals.decide(request, message, approve)

    def audit(self, action: str, outcome: str = "done", **details: Any) -> None:
        """Write a record to the audit log (who, where and when are added)."""
        self._services.audit.record(action, outcome, self.message, plugin=self.plugin, **details)

    def emit(self, topic: str, **fields: Any) -> int:
        """Tell other plugins what happened: each ``@on(topic)`` listener is called now,
        on this thread, with the fields (plain values: str, int, float, bool, None,
        lists and dicts of them). Returns how many listeners handled it (0: nobody
        listens, e.g. the plugin that would is not enabled)."""
        return self._services.emit(self.plugin, topic, fields)

    def _need_message(self, what: str) -> Message:
        if self.message is None:
            raise RuntimeError(f"{what}() needs a message; pollers use say()")
        return self.message


def send_result(ctx: Context[Any], result: object) -> None:
    """Reply with a handler's result: a string, or each string an iterable yields."""
    if result is None:
        return
    if isinstance(result, str):
        ctx.reply(result)
    elif isinstance(result, Iterable):
        for line in result:
            ctx.reply(str(line))
    else:
        ctx.reply(str(result))
