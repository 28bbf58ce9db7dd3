"""The matrix-nio client of one Matrix transport. Layer: transport.

Runs on the transport's own thread, in its asyncio loop. ``build_client`` makes the
``AsyncClient`` from the settings: no end-to-end encryption store, requests that give
up after ``request_timeout_s`` (a sync after its long poll plus 15 s), and no retries
of a failed connection inside nio (``max_timeouts = 0``): the session reconnects with
its own backoff, so that a lost link shows in the status. Rate-limit answers (HTTP 429,
``M_LIMIT_EXCEEDED``) are retried by nio itself after the ``retry_after_ms`` the server
asks for. ``LibraryEcho`` keeps nio's INFO lines out of the bot's log.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import TYPE_CHECKING

import aiohttp
from nio import AsyncClient, AsyncClientConfig

from univac import TransportError

if TYPE_CHECKING:
    from .settings import Settings

LINK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)
"""What a request raises when the homeserver cannot be reached or does not answer."""


def build_client(settings: Settings) -> AsyncClient:
    """Create the client for ``settings`` (call it on the loop's thread)."""
    config = AsyncClientConfig(
        max_timeouts=0, request_timeout=settings.request_timeout_s,
        store_sync_tokens=False, encryption_enabled=False,
    )
    quiet_library_lines()
    return AsyncClient(settings.homeserver, settings.user_id, config=config,
                       ssl=ssl_context(settings.tls_ca_file))


def ssl_context(ca_file: str) -> ssl.SSLContext | None:
    """The system's CAs plus ``ca_file`` (None: aiohttp's default, the system's CAs)."""
    if not ca_file:
        return None
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=ca_file)
    except (OSError, ssl.SSLError) as error:
        raise TransportError(f"tls_ca_file {ca_file}: {error}") from error
    return context


class LibraryEcho(logging.Filter):
    """Lets nio's lines through from WARNING up, except its rate-limit warning (the
    session logs that itself, rate-limited); everything at DEBUG level, except the
    line nio logs with each response's whole body (``Validating response schema``):
    a login's body holds the new access token, before the transport can have it
    masked, and a sync's is the whole sync."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.msg if isinstance(record.msg, str) else ""
        if text.startswith("Validating response schema"):
            return False
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            return True
        return record.levelno >= logging.WARNING and not text.startswith("Got 429 response")


def quiet_library_lines() -> None:
    """Put ``LibraryEcho`` on nio's loggers, once per process."""
    for name in ("nio.client.async_client", "nio.client.base_client", "nio.rooms",
                 "nio.responses", "nio.events.misc"):
        library = logging.getLogger(name)
        if not any(isinstance(f, LibraryEcho) for f in library.filters):
            library.addFilter(LibraryEcho())
