"""Webhook requests and replies, and calling a ``@webhook`` handler. Layer: core.

The core serves no HTTP: a plugin that does (``univac.plugins.http``) asks
``ctx.bot.webhooks()`` for the routes, turns each HTTP request into a
``WebhookRequest`` and calls the route. The call runs on the caller's thread (the HTTP
server's worker thread) and never raises: ``UserError`` becomes 400 with its text, any
other exception 500 with a fixed text (the traceback goes to the log).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from univac.errors import UserError

if TYPE_CHECKING:
    from univac.context import Context
    from univac.stats import Stats

log = logging.getLogger("univac.webhooks")


@dataclass(frozen=True)
class WebhookRequest:
    """One HTTP request for a webhook handler; header names are lower case."""

    method: str
    path: str
    """The webhook's own path, such as ``/github`` (without the server's prefix)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    remote: str = ""
    """The peer's address."""

    def __post_init__(self) -> None:
        lowered = {str(k).lower(): str(v) for k, v in self.headers.items()}
        object.__setattr__(self, "headers", MappingProxyType(lowered))

    def header(self, name: str, default: str = "") -> str:
        """A header's value, by name in any case."""
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        """The body parsed as JSON; UserError (a 400 reply) when it is not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise UserError("the body is not valid JSON") from None


@dataclass(frozen=True)
class WebhookResponse:
    """A webhook handler's reply."""

    status: int = 200
    body: str | bytes = ""
    content_type: str = "text/plain; charset=utf-8"

    def payload(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class WebhookRoute:
    """A webhook as ``ctx.bot.webhooks()`` lists it: call it with a request."""

    path: str
    methods: tuple[str, ...]
    plugin: str
    label: str
    """``plugin.function``."""
    call: Callable[[WebhookRequest], WebhookResponse]


def reply_of(result: object) -> WebhookResponse:
    """A handler's return value as a response: None is 204, a string 200."""
    if isinstance(result, WebhookResponse):
        return result
    if result is None:
        return WebhookResponse(204)
    return WebhookResponse(200, str(result))


def serve(
    func: Callable[..., object], label: str, ctx: Context, stats: Stats, request: WebhookRequest
) -> WebhookResponse:
    """Call one webhook handler; never raises (the handler boundary)."""
    started = time.perf_counter()
    try:
        response = reply_of(func(ctx.derive(), request))
    except UserError as error:
        response = WebhookResponse(400, str(error))
    except Exception:
        stats.incr("handler_errors")
        log.exception("webhook %s failed", label)
        response = WebhookResponse(500, "the handler failed; details are in the bot's log")
    stats.observe(ctx.plugin, "webhook", time.perf_counter() - started)
    return response
