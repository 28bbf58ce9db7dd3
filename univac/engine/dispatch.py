"""The dispatcher: from an incoming message to handler jobs. Layer: core.

``deliver`` runs on the transport's I/O thread, so it only parses and matches; every
handler runs on a reactive thread from the pool. A message is a command when it starts
with the prefix (``!help``), is addressed to the bot (``univac: help``, ``univac,
help``) or is private (``help``). Other messages are offered to pending yes/no
confirmations, then to the ``@match`` handlers. The bot never reacts to its own
messages; senders and channels (a thread counts as its channel) pass rate limits
(quietly); commands pass access rules (refusals are answered and audited, after the
rate limits); privileged commands are audited. Spoken to directly, a text that is no
command name (``!``, ``!!x``) gets a hint; in a channel a bare ``!`` may be meant for
someone else and is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from univac.context import Context
from univac.engine.access import Access
from univac.engine.approvals import Approvals
from univac.engine.catalog import Catalog, CommandHandler
from univac.engine.handlers import Boundary
from univac.engine.ratelimit import RateLimiter
from univac.engine.reactive import ReactivePool
from univac.engine.router import Router, requester
from univac.message import Message
from univac.ops.audit import AuditLog
from univac.ops.stats import Stats

log = logging.getLogger("univac.dispatch")
Job = tuple[str, Callable[[], None]]


@dataclass(frozen=True)
class Parts:
    """What the dispatcher works with."""

    catalog: Catalog
    contexts: Mapping[str, Context]
    pool: ReactivePool
    router: Router
    stats: Stats
    access: Access
    approvals: Approvals
    audit: AuditLog
    user_limit: RateLimiter
    channel_limit: RateLimiter
    prefix: str
    boundary: Boundary


class Dispatcher:
    """Turns messages into jobs on the reactive pool."""

    def __init__(self, parts: Parts) -> None:
        self._p = parts
        self.prefix = parts.prefix
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
        self._p.stats.incr(f"in:{message.transport}")
        if self._closed or _from_self(message) or self._p.approvals.offer(message):
            return
        text = message.text.strip()
        found = self._command_text(message, text)
        jobs = self._matches(message, text) if found is None else self._command(message, *found)
        if jobs and self._within_limits(message):
            for label, job in jobs:
                if not self._p.pool.submit(label, job):
                    self._p.stats.incr("shed")

    def _within_limits(self, message: Message) -> bool:
        sender = message.identity or f"{message.transport}:{message.sender}"
        channel = f"{message.transport}:{message.channel}"  # a thread counts as its channel
        if self._p.user_limit.allow(sender) and (
            message.private or self._p.channel_limit.allow(channel, sender)
        ):
            return True
        self._p.stats.incr("rate_limited")
        log.debug("rate limit: dropped a message from %s in %s", message.sender, channel)
        return False

    def _command_text(self, message: Message, text: str) -> tuple[str, bool] | None:
        """The command part of the text and whether the bot was spoken to directly."""
        if text.startswith(self.prefix):
            rest = text[len(self.prefix):]
            if rest[:1].isalnum():
                return rest, message.private
            return (text, True) if message.private else None  # "!", "!!x": a hint
        nick = message.bot_nick
        if nick and text[: len(nick)].casefold() == nick.casefold() and \
                text[len(nick): len(nick) + 1] in (":", ","):
            rest = text[len(nick) + 1:].strip()
            unprefixed = rest[len(self.prefix):] if rest.startswith(self.prefix) else ""
            return (unprefixed if unprefixed[:1].isalnum() else rest), True
        return (text, True) if message.private and text else None

    def _command(self, message: Message, text: str, direct: bool) -> list[Job]:
        name, _, args = text.partition(" ")
        handler = self._p.catalog.command(name)
        if handler is None:
            return [("core.unknown", self._unknown(message, name))] if direct and name else []
        self._p.stats.incr("commands")
        rule = self._p.access.rule(handler)
        refusal = self._p.access.refusal(handler, message, rule)
        if refusal:
            return [(handler.label, self._refuse(message, handler, refusal))]
        ctx = self._p.contexts[handler.plugin].derive(message)
        return [(handler.label, partial(self._p.boundary.command, handler, ctx, args,
                                        bool(rule.requires)))]

    def _refuse(
        self, message: Message, handler: CommandHandler, refusal: str
    ) -> Callable[[], None]:
        """Answer and audit a refusal: a job, so rate limits come before the audit."""
        def job() -> None:
            self._p.audit.refused(message, handler.label, refusal)
            self._p.stats.command(handler.plugin, handler.spec.name, "denied", None)
            self._p.router.send(message.transport, message.target, refusal, requester(message))

        return job

    def _unknown(self, message: Message, name: str) -> Callable[[], None]:
        example = f", such as {self.prefix}help" if self._p.catalog.command("help") else ""
        if not name[:1].isalnum():
            return self._say(message, f"A command is a name after {self.prefix}{example}.")
        shown = name if len(name) <= 30 else name[:27] + "..."
        hint = f" Try {self.prefix}help." if example else ""
        return self._say(message, f"Unknown command '{shown}'.{hint}")

    def _say(self, message: Message, text: str) -> Callable[[], None]:
        asker = requester(message)
        return lambda: self._p.router.send(message.transport, message.target, text, asker)

    def _matches(self, message: Message, text: str) -> list[Job]:
        jobs: list[Job] = []
        for handler in self._p.catalog.matchers:
            pattern = handler.spec.pattern
            if pattern.search(text) is not None:
                ctx = self._p.contexts[handler.plugin].derive(message)
                run = partial(self._p.boundary.matcher, handler, ctx, list(pattern.finditer(text)))
                jobs.append((handler.label, run))
        return jobs


def _from_self(message: Message) -> bool:
    return bool(message.bot_nick) and message.sender.casefold() == message.bot_nick.casefold()
