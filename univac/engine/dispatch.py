"""The dispatcher: from an incoming message to handler jobs. Layer: core.

``deliver`` runs on the transport's I/O thread, so it only parses and matches; every
handler runs on a reactive thread from the pool. A message is a command when it starts
with the prefix (``!help``), is addressed to the bot (``univac: help``, ``univac,
help``) or is private (``help``). Other messages are offered to pending yes/no
confirmations, then to the ``@match`` handlers. The bot never reacts to its own
messages; senders and channels pass rate limits (quietly); commands pass access rules
(refusals are answered and audited); privileged commands are audited.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from univac.arguments import parse, usage
from univac.context import Context, send_result
from univac.engine.access import Access
from univac.engine.approvals import Approvals
from univac.engine.catalog import Catalog, Handler
from univac.engine.ratelimit import RateLimiter
from univac.engine.reactive import ReactivePool
from univac.engine.router import Router, requester
from univac.errors import UsageError, UserError
from univac.message import Message
from univac.ops.audit import AuditLog
from univac.ops.stats import Stats

log = logging.getLogger("univac.dispatch")
APOLOGY = "Sorry, something went wrong on my side; the operator can find the details in the log."
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
        channel = f"{message.transport}:{message.target}"
        if self._p.user_limit.allow(sender) and (
            message.private or self._p.channel_limit.allow(channel)
        ):
            return True
        self._p.stats.incr("rate_limited")
        log.debug("rate limit: dropped a message from %s in %s", message.sender, channel)
        return False

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
        handler = self._p.catalog.command(name)
        if handler is None:
            return [("core.unknown", self._unknown(message, name))] if direct and name else []
        self._p.stats.incr("commands")
        rule = self._p.access.rule(handler)
        refusal = self._p.access.refusal(handler, message, rule)
        if refusal:
            self._p.audit.record("command", "refused", message, command=handler.label,
                                 reason=refusal)
            self._p.stats.command(handler.plugin, handler.spec.name, "denied", None)
            return [(handler.label, self._say(message, refusal))]
        ctx = self._p.contexts[handler.plugin].derive(message)
        privileged = bool(rule.requires)
        return [(handler.label, lambda: self._run_command(handler, ctx, args, privileged))]

    def _unknown(self, message: Message, name: str) -> Callable[[], None]:
        shown = name if len(name) <= 30 else name[:27] + "..."
        hint = f" Try {self.prefix}help." if self._p.catalog.command("help") else ""
        return self._say(message, f"Unknown command '{shown}'.{hint}")

    def _say(self, message: Message, text: str) -> Callable[[], None]:
        asker = requester(message)
        return lambda: self._p.router.send(message.transport, message.target, text, asker)

    def _run_command(self, handler: Handler, ctx: Context, args: str, privileged: bool) -> None:
        started = time.perf_counter()
        outcome = self._command_outcome(handler, ctx, args, privileged)
        self._p.stats.command(handler.plugin, handler.spec.name,  # type: ignore[union-attr]
                              outcome, time.perf_counter() - started)

    def _command_outcome(self, handler: Handler, ctx: Context, args: str, privileged: bool) -> str:
        """Run the command and answer; return its outcome (``done``, ``usage``...)."""
        assert handler.signature is not None
        outcome = "done"
        try:
            positional, keywords = parse(handler.signature, args)
            result = handler.func(ctx, *positional, **keywords)
            if privileged and not isinstance(result, str | None):
                result = [str(line) for line in result]
            if privileged:
                self._audit_command(ctx, handler, args, outcome)
            send_result(ctx, result)
            return outcome
        except UsageError as error:
            outcome = "usage"
            shown = usage(handler.spec.name, handler.signature)  # type: ignore[union-attr]
            ctx.reply(f"{error}. Usage: {self.prefix}{shown}")
        except UserError as error:
            outcome = "refused"
            ctx.reply(str(error))
        except Exception:
            outcome = "error"
            self._p.stats.incr("handler_errors")
            log.exception("command %s failed", handler.label)
            ctx.reply(APOLOGY)
        if privileged:
            self._audit_command(ctx, handler, args, outcome)
        return outcome

    def _audit_command(self, ctx: Context, handler: Handler, args: str, outcome: str) -> None:
        self._p.audit.record("command", outcome, ctx.message, command=handler.label,
                             arguments=args.strip())

    def _matches(self, message: Message, text: str) -> list[Job]:
        jobs = []
        for handler in self._p.catalog.matchers:
            found = handler.spec.pattern.search(text)  # type: ignore[union-attr]
            if found is not None:
                ctx = self._p.contexts[handler.plugin].derive(message)
                jobs.append((handler.label, _matcher_job(handler, ctx, found, self._p.stats)))
        return jobs


def _matcher_job(
    handler: Handler, ctx: Context, found: re.Match[str], stats: Stats
) -> Callable[[], None]:
    def job() -> None:
        started = time.perf_counter()
        try:
            send_result(ctx, handler.func(ctx, found))
        except UserError as error:
            ctx.reply(str(error))
        except Exception:
            stats.incr("handler_errors")
            log.exception("matcher %s failed", handler.label)
        stats.observe(handler.plugin, "match", time.perf_counter() - started)

    return job


def _from_self(message: Message) -> bool:
    return bool(message.bot_nick) and message.sender.casefold() == message.bot_nick.casefold()
