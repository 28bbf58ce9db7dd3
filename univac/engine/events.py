"""Plugin events: ``ctx.emit(topic, **fields)`` calls every ``@on(topic)`` listener.
Layer: core (engine). Runs on the emitting handler's thread.

One plugin tells others what happened (a runbook step ran, an alert came in) without
importing them: it emits a topic with plain fields; any enabled plugin that listens
gets a read-only copy, each listener in turn, each at the boundary (an exception is
logged, never raised into the emitter). Listeners run on the emitter's thread, one
after the other, so an event is never shed or reordered and the emitter knows it was
handled when ``emit`` returns; a listener should be quick (a store write, a line to
chat). Events are not persisted: a listener that is not enabled misses them.

An event emitted from inside a listener is handled too, down to ``MAX_DEPTH`` levels;
deeper ones (a loop between two plugins) are dropped with an error in the log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from univac.context import Context
from univac.engine.catalog import Catalog
from univac.engine.handlers import Boundary

log = logging.getLogger("univac.events")
MAX_DEPTH = 4


class Events:
    """Delivers plugin events to the catalog's listeners (see the module docstring)."""

    def __init__(self, catalog: Catalog, contexts: Mapping[str, Context], boundary: Boundary,
                 ) -> None:
        self._catalog = catalog
        self._contexts = contexts
        self._boundary = boundary
        self._local = threading.local()

    def emit(self, source: str, topic: str, fields: Mapping[str, Any]) -> int:
        """Call each listener of ``topic``; how many handled it without an error."""
        listeners = self._catalog.listeners.get(topic, [])
        if not listeners:
            return 0
        depth = getattr(self._local, "depth", 0)
        if depth >= MAX_DEPTH:
            log.error("event %s from %s dropped: events nested %d deep (a loop?)",
                      topic, source, depth)
            return 0
        event = MappingProxyType({**fields, "topic": topic, "source": source})
        self._local.depth = depth + 1
        try:
            return sum(self._boundary.listener(handler, self._contexts[handler.plugin], event)
                       for handler in listeners if handler.plugin in self._contexts)
        finally:
            self._local.depth = depth
