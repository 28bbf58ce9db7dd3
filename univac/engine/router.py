"""Routes outgoing text to transports by name. Layer: core; any thread."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from univac.ops.stats import Stats
from univac.transport import Transport

log = logging.getLogger("univac.router")


class Router:
    """Sends text to a named transport's target and counts what goes out."""

    def __init__(self, transports: Mapping[str, Transport], stats: Stats) -> None:
        self._transports = dict(transports)
        self._stats = stats

    def names(self) -> list[str]:
        return list(self._transports)

    def send(self, transport: str, target: str, text: str) -> None:
        """Queue ``text`` for ``target`` on ``transport``; ValueError if unknown."""
        if transport not in self._transports:
            raise ValueError(f"no transport named {transport!r}")
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
