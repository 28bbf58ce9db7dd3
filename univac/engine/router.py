"""Routes outgoing text to transports by name. Layer: core; any thread."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping

from univac.message import Message
from univac.ops.stats import Stats
from univac.transport import Transport

log = logging.getLogger("univac.router")


class Router:
    """Sends text to a named transport's target and counts what goes out."""

    def __init__(self, transports: Mapping[str, Transport], stats: Stats) -> None:
        self._transports = dict(transports)
        self._stats = stats
        self._with_requester = {n for n, t in self._transports.items() if _takes_requester(t)}

    def names(self) -> list[str]:
        return list(self._transports)

    def send(self, transport: str, target: str, text: str, requester: str = "") -> None:
        """Queue ``text`` for ``target`` on ``transport``; ValueError if unknown.
        ``requester`` (who asked) reaches transports that take it."""
        if transport not in self._transports:
            raise ValueError(f"no transport named {transport!r}")
        if requester and transport in self._with_requester:
            send: Callable[..., None] = self._transports[transport].send
            send(target, text, requester=requester)
        else:
            self._transports[transport].send(target, text)
        self._stats.incr(f"out:{transport}")

    def resolve(self, target: str, default: str | None) -> tuple[str, str]:
        """Split ``"transport:target"``; a plain target goes to ``default``."""
        name, colon, rest = target.partition(":")
        if colon and name in self._transports and rest:
            return name, rest
        if default is None:
            raise ValueError(f"target {target!r} needs a transport: 'name:{target}'")
        return default, target


def requester(message: Message | None) -> str:
    """Who asked: the message's identity, else its sender's name ("" without a message)."""
    if message is None:
        return ""
    return message.identity or f"{message.transport}:{message.sender}"


def _takes_requester(transport: Transport) -> bool:
    """Whether ``transport.send`` accepts the ``requester`` keyword."""
    try:
        parameters = inspect.signature(transport.send).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "requester" or p.kind is p.VAR_KEYWORD for p in parameters)
