"""The dispatcher: from an incoming message to handler jobs. Layer: core.

``deliver`` runs on the transport's I/O thread, so it only parses and matches; every
handler runs on a reactive thread from the pool. A message is a command when it starts
with the prefix (``!help``), is addressed to the bot (``univac: help``, ``univac,
help``) or is private (``help``). Other messages are offered to the ``@match``
handlers. The bot never reacts to its own messages; each sender passes a rate limit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping

from univac.arguments import parse, usage
from univac.context import Context, send_result
from univac.errors import UsageError, UserError
from univac.message import Message
from univac.plugin import Catalog, Handler
from univac.ratelimit import RateLimiter
from univac.reactive import ReactivePool
from univac.router import Router
from univac.stats import Stats

log = logging.getLogger("univac.dispatch")
APOLOGY = "Sorry, something went wrong on my side; the operator can find the details in the log."
Job = tuple[str, Callable[[], None]]


class Dispatcher:
    """Turns messages into jobs on the reactive pool."""

    def __init__(
        self,
        catalog: Catalog,
        contexts: Mapping[str, Context],
        pool: ReactivePool,
        limiter: RateLimiter,
        stats: Stats,
        router: Router,
        prefix: str,
    ) -> None:
        self._router = router
        self._catalog = catalog
        self._contexts = contexts
        self._pool = pool
        self._limiter = limiter
        self._stats = stats
        self.prefix = prefix
        self._closed = False

    def close(self) -> None:
        """Accept no more messages (shutdown)."""
        self._closed = True

    def deliver(self, message: Message) -> None:
        """Handle one incoming message; never raises (transport boundary)."""
        try:
            self._deliver(message)
        except Exception:
            log.exception("cannot dispatch a message from %s", message.transport)

    def _deliver(self, message: Message) -> None:
        self._stats.incr(f"in:{message.transport}")
        if self._closed or _from_self(message):
            return
        text = message.text.strip()
        found = self._command_text(message, text)
        jobs = self._matches(message, text) if found is None else self._command(message, *found)
        if not jobs:
            return
        if not self._limiter.allow(message.identity or f"{message.transport}:{message.sender}"):
            self._stats.incr("rate_limited")
            log.debug("rate limit: dropped a message from %s", message.sender)
            return
        for label, job in jobs:
            if not self._pool.submit(label, job):
                self._stats.incr("shed")

    def _command_text(self, message: Message, text: str) -> tuple[str, bool] | None:
        """The command part of the text and whether the bot was spoken to directly."""
        if text.startswith(self.prefix):
            rest = text[len(self.prefix):]
            return (rest, message.private) if rest[:1].isalnum() else None
        nick = message.bot_nick
        if nick and text[: len(nick)].casefold() == nick.casefold() and \
                text[len(nick): len(nick) + 1] in (":", ","):
            return text[len(nick) + 1:].strip(), True
        return (text, True) if message.private and text else None

    def _command(self, message: Message, text: str, direct: bool) -> list[Job]:
        name, _, args = text.partition(" ")
        handler = self._catalog.command(name)
        if handler is None:
            return [("core.unknown", self._unknown(message, name))] if direct and name else []
        self._stats.incr("commands")
        ctx = self._contexts[handler.plugin].derive(message)
        return [(handler.label, lambda: self._run_command(handler, ctx, args))]

    def _unknown(self, message: Message, name: str) -> Callable[[], None]:
        shown = name if len(name) <= 30 else name[:27] + "..."
        hint = f" Try {self.prefix}help." if self._catalog.command("help") else ""
        text = f"Unknown command '{shown}'.{hint}"
        return lambda: self._router.send(message.transport, message.target, text)

    def _run_command(self, handler: Handler, ctx: Context, args: str) -> None:
        assert handler.signature is not None
        try:
            positional, keywords = parse(handler.signature, args)
            send_result(ctx, handler.func(ctx, *positional, **keywords))
        except UsageError as error:
            shown = usage(handler.spec.name, handler.signature)  # type: ignore[union-attr]
            ctx.reply(f"{error}. Usage: {self.prefix}{shown}")
        except UserError as error:
            ctx.reply(str(error))
        except Exception:
            self._stats.incr("handler_errors")
            log.exception("command %s failed", handler.label)
            ctx.reply(APOLOGY)

    def _matches(self, message: Message, text: str) -> list[Job]:
        jobs = []
        for handler in self._catalog.matchers:
            found = handler.spec.pattern.search(text)  # type: ignore[union-attr]
            if found is not None:
                ctx = self._contexts[handler.plugin].derive(message)
                jobs.append((handler.label, _matcher_job(handler, ctx, found, self._stats)))
        return jobs


def _matcher_job(
    handler: Handler, ctx: Context, found: re.Match[str], stats: Stats
) -> Callable[[], None]:
    def job() -> None:
        try:
            send_result(ctx, handler.func(ctx, found))
        except UserError as error:
            ctx.reply(str(error))
        except Exception:
            stats.incr("handler_errors")
            log.exception("matcher %s failed", handler.label)

    return job


def _from_self(message: Message) -> bool:
    return bool(message.bot_nick) and message.sender.casefold() == message.bot_nick.casefold()
