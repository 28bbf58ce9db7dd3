"""The boundaries where plugin code is called. Layer: core (engine).

``Boundary`` calls the five kinds of handler the catalog makes (``CommandHandler``,
``MatchHandler``, ``PollHandler``, ``WebhookHandler``, ``ListenerHandler``, in
``catalog.py``); plugin
code never lets an exception escape it. ``UserError`` becomes what the user sees (a
reply, a 400); any other exception a fixed text for the user (or a 500, or nothing for
a matcher) and the traceback in the log, never the exception's text in chat.

Threads: commands and matchers run on reactive threads, pollers on their own
``poll:<plugin>.<function>`` thread, webhooks on the HTTP server's worker threads,
listeners on the thread of the handler that emitted the event (``events.py``).
With ``[ha]`` on, a webhook reaching an instance that does not lead is refused with 503
before any plugin code runs (a load balancer that checks ``/healthz`` sends webhooks to
the leader only).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from univac.arguments import parse, usage
from univac.context import Context, send_result
from univac.engine.catalog import (
    CommandHandler,
    ListenerHandler,
    MatchHandler,
    PollHandler,
    WebhookHandler,
)
from univac.errors import UsageError, UserError
from univac.ops.audit import AuditLog
from univac.ops.stats import Stats
from univac.polls import RetryAfter, Skip
from univac.webhooks import WebhookRequest, WebhookResponse, reply_of

log = logging.getLogger("univac.handlers")
APOLOGY = "Sorry, something went wrong on my side; the operator can find the details in the log."
STANDBY = WebhookResponse(503, "standby: this instance does not lead; send this to the leader\n")
PollKind = Literal["polled", "skipped", "deferred", "failed"]


@dataclass(frozen=True)
class PollResult:
    """How one poller run ended; ``retry_s`` for ``deferred``, ``error`` for ``failed``."""

    kind: PollKind
    retry_s: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class Boundary:
    """Calls handlers; what they report goes to the counters and the audit trail."""

    stats: Stats
    audit: AuditLog
    prefix: str

    def command(self, handler: CommandHandler, ctx: Context, args: str, privileged: bool) -> None:
        """Run a command and answer; count its outcome and time; audit it if privileged."""
        started = time.perf_counter()
        outcome = self._command(handler, ctx, args, privileged)
        self.stats.command(handler.plugin, handler.spec.name, outcome,
                           time.perf_counter() - started)

    def _command(self, handler: CommandHandler, ctx: Context, args: str, privileged: bool) -> str:
        try:
            positional, keywords = parse(handler.signature, args)
            result = handler.func(ctx, *positional, **keywords)
            if privileged and isinstance(result, Iterable) and not isinstance(result, str):
                result = [str(line) for line in result]  # audited before the first line
            if privileged:
                self._audit(ctx, handler, args, "done")
            send_result(ctx, result)
            return "done"
        except UsageError as error:
            outcome = "usage"
            ctx.reply(f"{error}. Usage: {self.prefix}{usage(handler.spec.name, handler.signature)}")
        except UserError as error:
            outcome = "refused"
            ctx.reply(str(error))
        except Exception:  # the command boundary
            outcome = "error"
            self.stats.incr("handler_errors")
            log.exception("command %s failed", handler.label)
            ctx.reply(APOLOGY)
        if privileged:
            self._audit(ctx, handler, args, outcome)
        return outcome

    def _audit(self, ctx: Context, handler: CommandHandler, args: str, outcome: str) -> None:
        self.audit.record("command", outcome, ctx.message, command=handler.label,
                          arguments=args.strip())

    def matcher(self, handler: MatchHandler, ctx: Context, matches: list[re.Match[str]]) -> None:
        """Run a matcher with every match in the message (or the first, in the old form)."""
        started = time.perf_counter()
        try:
            send_result(ctx, handler.func(ctx, matches[0] if handler.first_only else matches))
        except UserError as error:
            ctx.reply(str(error))
        except Exception:  # the matcher boundary: logged, never apologised for in chat
            self.stats.incr("handler_errors")
            log.exception("matcher %s failed", handler.label)
        self.stats.observe(handler.plugin, "match", time.perf_counter() - started)

    def poll(self, handler: PollHandler, ctx: Context) -> PollResult:
        """Run a poller once; how it ended (a raised exception is a failure)."""
        try:
            result = handler.func(ctx)
        except Exception as error:  # the poller boundary
            log.exception("poller %s failed", handler.label)
            return PollResult("failed", error=type(error).__name__)
        if isinstance(result, Skip):
            log.debug("poller %s skipped: %s", handler.label, result.reason or "nothing to do")
            return PollResult("skipped")
        if isinstance(result, RetryAfter):
            retry_s = result.seconds(ctx.now())
            log.info("poller %s: retry in %.0f s%s", handler.label, retry_s,
                     f" ({result.reason})" if result.reason else "")
            return PollResult("deferred", retry_s)
        if result is not None:
            log.warning("poller %s returned a value: use ctx.say(), Skip or RetryAfter",
                        handler.label)
        return PollResult("polled")

    def webhook(
        self, handler: WebhookHandler, ctx: Context, request: WebhookRequest, *,
        active: Callable[[], bool] = lambda: True,
    ) -> WebhookResponse:
        """Call one webhook handler; never raises (a 400 for UserError, else a 500).
        503 unless ``active()``: with ``[ha]``, only the leader handles webhooks."""
        if not active():
            return STANDBY
        started = time.perf_counter()
        try:
            response = reply_of(handler.func(ctx.derive(), request))
        except UserError as error:
            response = WebhookResponse(400, str(error))
        except Exception:  # the webhook boundary
            self.stats.incr("handler_errors")
            log.exception("webhook %s failed", handler.label)
            response = WebhookResponse(500, "the handler failed; details are in the bot's log")
        self.stats.observe(handler.plugin, "webhook", time.perf_counter() - started)
        return response

    def listener(self, handler: ListenerHandler, ctx: Context,
                 event: Mapping[str, Any]) -> bool:
        """Call one ``@on`` listener; never raises. True when it returned normally."""
        started = time.perf_counter()
        try:
            handler.func(ctx.derive(), event)
            return True
        except UserError as error:
            log.warning("listener %s refused event %s: %s", handler.label, event["topic"], error)
        except Exception:  # the listener boundary
            self.stats.incr("handler_errors")
            log.exception("listener %s failed on event %s", handler.label, event["topic"])
        finally:
            self.stats.observe(handler.plugin, "listener", time.perf_counter() - started)
        return False
