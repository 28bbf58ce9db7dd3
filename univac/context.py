"""The Context a handler receives: the whole world it may touch. Layer: core.

A new Context is made for each message, poller run or setup call and used on that
one thread; ``state`` is shared by the plugin's handlers and locks itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from univac.host import HostInfo
from univac.message import Message
from univac.report import BotView
from univac.router import Router
from univac.state import State


def utc_now() -> datetime:
    return datetime.now(UTC)


class Context:
    """What a handler gets as its first argument."""

    __slots__ = ("_clock", "_router", "bot", "config", "host", "log", "message", "plugin", "state")

    def __init__(
        self,
        plugin: str,
        *,
        config: Any,
        state: State,
        router: Router,
        bot: BotView,
        host: HostInfo,
        message: Message | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.plugin = plugin
        self.config = config
        """The plugin's settings dataclass (None when it declares none)."""
        self.state = state
        self.log = logging.getLogger(f"univac.plugin.{plugin}")
        self.bot = bot
        self.host = host
        self.message = message
        self._router = router
        self._clock = clock

    def derive(
        self, message: Message | None = None, clock: Callable[[], datetime] | None = None
    ) -> Context:
        """A copy of this context for one message (and, in tests, another clock)."""
        return Context(
            self.plugin, config=self.config, state=self.state, router=self._router,
            bot=self.bot, host=self.host, message=message, clock=clock or self._clock,
        )

    @property
    def transport(self) -> str | None:
        """The name of the transport the message came from (None in pollers)."""
        return self.message.transport if self.message else None

    def now(self) -> datetime:
        """The current time (UTC); tests can set it."""
        return self._clock()

    def reply(self, text: str) -> None:
        """Answer where the message came from: its channel, or the sender in private."""
        if self.message is None:
            raise RuntimeError("reply() needs a message; pollers use say()")
        if text:
            self._router.send(self.message.transport, self.message.target, str(text))

    def say(self, target: str, text: str) -> None:
        """Send to ``target``: ``"#chan"`` on this transport, or ``"irc:#chan"``."""
        transport, where = self._router.resolve(target, self.transport)
        if text:
            self._router.send(transport, where, str(text))


def send_result(ctx: Context, result: object) -> None:
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
