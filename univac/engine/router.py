"""Routes outgoing text to transports by name. Layer: core; any thread.

Every line the bot sends to chat passes ``Router.send``, so this is where outgoing text
is made safe, once: CTCP markers (``\\x01``) and bidirectional overrides and isolates
(U+202A..U+202E, U+2066..U+2069) are removed, so relayed user input can neither start
a CTCP request nor reorder what readers see, and secret values (from the configuration,
and those transports learn at run time) are masked as in the logs (``univac/logs.py``).
Plain ASCII text without ``\\x01`` and without secrets costs two checks.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Mapping

from univac.logs import Masker
from univac.message import Message
from univac.ops.stats import Stats
from univac.targets import split, unknown_transport
from univac.transport import Transport

log = logging.getLogger("univac.router")
UNSAFE = re.compile("[\x01\u202a-\u202e\u2066-\u2069]")


def made_safe(text: str) -> str:
    """``text`` without CTCP markers and bidirectional overrides or isolates."""
    if text.isascii():
        return text.replace("\x01", "") if "\x01" in text else text
    return UNSAFE.sub("", text)


class Router:
    """Sends text to a named transport's target and counts what goes out."""

    def __init__(
        self, transports: Mapping[str, Transport], stats: Stats, masker: Masker | None = None
    ) -> None:
        self._transports = dict(transports)
        self._stats = stats
        self._masker = masker or Masker()
        self._with_requester = {n for n, t in self._transports.items() if takes_requester(t)}

    def names(self) -> list[str]:
        return list(self._transports)

    def send(self, transport: str, target: str, text: str, requester: str = "") -> None:
        """Queue ``text`` for ``target`` on ``transport``; ValueError if unknown.
        ``requester`` (who asked) reaches transports that take it."""
        if transport not in self._transports:
            raise ValueError(unknown_transport(transport, self._transports))
        text = made_safe(text)
        if self._masker.secrets:
            text = self._masker.mask(text)
        if requester and transport in self._with_requester:
            send: Callable[..., None] = self._transports[transport].send
            send(target, text, requester=requester)
        else:
            self._transports[transport].send(target, text)
        self._stats.incr(f"out:{transport}")

    def resolve(self, target: str, default: str | None) -> tuple[str, str]:
        """Split ``"transport:target"``; a plain target goes to ``default``.

        ValueError names the configured transports when the named one is not among them.
        """
        parts = split(target)
        if parts is not None:
            name, rest = parts
            if name not in self._transports:
                raise ValueError(f"cannot send to {target!r}: "
                                 + unknown_transport(name, self._transports))
            if not rest:
                raise ValueError(f"cannot send to {target!r}: nothing after '{name}:'")
            return name, rest
        if default is None:
            example = f"{next(iter(self._transports), 'irc')}:{target}"
            raise ValueError(f"target {target!r} needs a transport, such as {example!r}")
        return default, target


def requester(message: Message | None) -> str:
    """Who asked: the message's identity, else its sender's name ("" without a message)."""
    if message is None:
        return ""
    return message.identity or f"{message.transport}:{message.sender}"


def takes_requester(transport: Transport) -> bool:
    """Whether ``transport.send`` accepts the ``requester`` keyword."""
    try:
        parameters = inspect.signature(transport.send).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "requester" or p.kind is p.VAR_KEYWORD for p in parameters)
