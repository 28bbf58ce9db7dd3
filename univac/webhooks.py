"""Webhook requests, replies and routes: plain types. Layer: core (plugin API).

The core serves no HTTP: a plugin that does (``univac.plugins.http``) asks
``ctx.bot.webhooks()`` for the routes, turns each HTTP request into a
``WebhookRequest`` and calls the route. How a route calls its handler (the boundary
that turns exceptions into 400 and 500 replies) is in ``univac/engine/handlers.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from univac.errors import UserError


@dataclass(frozen=True)
class WebhookRequest:
    """One HTTP request for a webhook handler; header names are lower case."""

    method: str
    path: str
    """The path asked for, without the server's prefix: ``/github``, or
    ``/incidents/inc_1`` for a webhook of ``/incidents/*``."""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    remote: str = ""
    """The peer's address."""
    query: str = ""
    """The query string, as sent (``n=123``; parse it with ``urllib.parse.parse_qs``)."""

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
    headers: Mapping[str, str] = field(default_factory=dict)
    """More response headers (``WWW-Authenticate``, ``Content-Security-Policy``); the
    server sets ``Content-Type``, ``Content-Length`` and ``Cache-Control`` itself."""

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
    own_auth: bool = False
    """The handler checks who calls it; the server asks for no signature or token."""

    def matches(self, path: str) -> bool:
        """Whether this webhook answers ``path``: the same path, or for a path ending in
        ``/*`` one below it (``/incidents/*`` answers ``/incidents/inc_1``)."""
        if not self.path.endswith("/*"):
            return path == self.path
        return path.startswith(self.path[:-1]) and len(path) > len(self.path) - 1


def reply_of(result: object) -> WebhookResponse:
    """A handler's return value as a response: None is 204, a string 200."""
    if isinstance(result, WebhookResponse):
        return result
    if result is None:
        return WebhookResponse(204)
    return WebhookResponse(200, str(result))
