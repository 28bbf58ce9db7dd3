"""The slixmpp client of one XMPP transport and its connection attempts. Layer: transport.

Runs on the transport's own thread, in its asyncio loop. ``build_client`` makes the
client from the settings; an ``Attempt`` follows one connection from dialling to its end
(first stanza heard, session up, ended, and why it failed) so that the session can give
up on a server that never speaks or never lets the bot log in. ``LibraryEcho`` keeps
slixmpp from logging again, unthrottled, what the session logs itself.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import TYPE_CHECKING

from slixmpp import ClientXMPP

from univac import TransportError

if TYPE_CHECKING:
    from .settings import Settings

DEFAULT_PORTS = {"starttls": 5222, "plaintext": 5222, "direct": 5223}


def build_client(settings: Settings, loop: asyncio.AbstractEventLoop) -> ClientXMPP:
    """Create the slixmpp client for ``settings`` on ``loop`` (the calling thread's)."""
    client = ClientXMPP(f"{settings.jid}/{settings.resource}", settings.password, loop=loop)
    client.enable_plaintext = settings.tls == "plaintext"
    client.enable_starttls = settings.tls == "starttls"
    client.enable_direct_tls = settings.tls == "direct"
    if settings.tls == "plaintext":
        client.plugin["feature_mechanisms"].unencrypted_plain = True
        client.plugin["feature_mechanisms"].unencrypted_scram = True
    if settings.tls_ca_file:
        try:
            client.ssl_context.load_verify_locations(cafile=settings.tls_ca_file)
        except (OSError, ssl.SSLError) as error:
            raise TransportError(f"tls_ca_file {settings.tls_ca_file}: {error}") from error
    for plugin in ("xep_0030", "xep_0045", "xep_0199", "xep_0410"):
        client.register_plugin(plugin)
    if settings.stream_management:
        client.register_plugin("xep_0198")
    quiet_library_lines()
    return client


class LibraryEcho(logging.Filter):
    """Drops slixmpp's own lines about what this transport logs itself, rate-limited:
    a lost connection (INFO) and an untrusted certificate (ERROR, on every attempt).
    They still show at DEBUG level."""

    ECHOES = ("connection_lost: ", "CERT: Invalid certificate trust chain.")

    def filter(self, record: logging.LogRecord) -> bool:
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            return True
        return not (isinstance(record.msg, str) and record.msg.startswith(self.ECHOES))


def quiet_library_lines() -> None:
    """Put ``LibraryEcho`` on slixmpp's stream logger, once per process."""
    stream_log = logging.getLogger("slixmpp.xmlstream.xmlstream")
    if not any(isinstance(f, LibraryEcho) for f in stream_log.filters):
        stream_log.addFilter(LibraryEcho())


def closed_because(reason: object) -> str:
    """The reason slixmpp gives for a closed connection, as a status line."""
    if isinstance(reason, BaseException):
        return f"connection lost: {reason or type(reason).__name__}"
    return f"connection closed: {reason}" if reason else "connection closed by the server"


class Attempt:
    """One connection attempt: when the server first spoke, when the session came up,
    when the connection ended, and why it failed (if known before it ended)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.heard = loop.create_future()
        self.up = loop.create_future()
        self.ended = loop.create_future()
        self.started = loop.time()
        self.loop = loop
        self.error = ""

    @staticmethod
    def mark(step: asyncio.Future) -> None:
        if not step.done():
            step.set_result(None)

    def end(self) -> None:
        self.mark(self.ended)

    async def reached(self, step: asyncio.Future, limit_s: float) -> bool:
        """Wait until ``step`` or the end of the attempt; False if ``limit_s`` seconds
        after dialling passed first (0: no limit)."""
        left = None
        if limit_s > 0:
            left = max(self.started + limit_s - self.loop.time(), 0.0)
        done, _ = await asyncio.wait({step, self.ended}, timeout=left,
                                     return_when=asyncio.FIRST_COMPLETED)
        return bool(done)
