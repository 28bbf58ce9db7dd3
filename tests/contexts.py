"""Test helper: the ``TransportContext`` a bot lends a transport, outside a bot.

``lend(folder, name)`` opens the store a bot would open in the state folder ``folder``
(the embedded SQLite one) and gives the transport ``name`` its state there, under the
namespace the bot uses, and a ``mask`` that records what it was asked to mask.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from univac import TransportContext
from univac.engine.maker import NAMESPACE
from univac.engine.state import State
from univac.engine.store import Fence, Store, StoreEntry, open_store


@dataclass
class Lent:
    """A context, the store behind it, and what the transport asked to mask."""

    store: Store
    context: TransportContext
    masked: list[str] = field(default_factory=list)

    def stored(self) -> dict[str, object]:
        """What the store holds for the transport now (read afresh)."""
        records = self.store.load(self.context.state.namespace)
        return {key: json.loads(text) for key, text in records.items()}

    def close(self) -> None:
        self.store.close()


def lend(folder: Path, name: str, fence: Fence | None = None) -> Lent:
    """A context for the transport ``name`` on the SQLite store in ``folder``."""
    store = open_store(StoreEntry(), folder)
    masked: list[str] = []
    context = TransportContext(State(store, NAMESPACE.format(name), fence), masked.append)
    return Lent(store, context, masked)
