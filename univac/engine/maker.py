"""Transports made from their modules' ``create``, with what the core lends them.
Layer: core; the main thread at start, the ``leader`` thread at each term (terms.py).

``create(name, settings)`` is called as it is, as before. A ``create`` with a third
positional parameter gets a ``TransportContext`` (transport.py): the transport's
``State`` in the store under the namespace ``transport:<name>`` (no plugin name holds a
colon) and ``mask``, the bot's way to mask a secret learnt at run time. The context is
made once per transport name and handed to every transport made under that name (with
``[ha]``, one per term); ``reload`` reads every transport's state again as a term
begins, so a new leader starts from what the previous one committed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable

from univac.config import TransportEntry
from univac.engine.state import State
from univac.engine.store import Fence, Store
from univac.errors import ConfigError, ConfigIssue
from univac.transport import Transport, TransportContext

NAMESPACE = "transport:{}"
"""The state namespace of the transport named ``{}``."""


class TransportMaker:
    """Makes transports from their entries, each with its context when it takes one."""

    def __init__(self, store: Store, fence: Fence, mask: Callable[[str], None]) -> None:
        self._store, self._fence, self._mask = store, fence, mask
        self._contexts: dict[str, TransportContext] = {}

    def make(self, entry: TransportEntry) -> Transport:
        """A new transport from ``entry``'s module (raises what its ``create`` raises)."""
        create = entry.module.create
        if not takes_context(create):
            return create(entry.name, entry.settings)
        return create(entry.name, entry.settings, self.context(entry.name))

    def make_all(self, entries: Iterable[TransportEntry], file: str) -> dict[str, Transport]:
        """Every configured transport; ConfigError names each one that cannot be made."""
        made: dict[str, Transport] = {}
        issues = []
        for entry in entries:
            try:
                made[entry.name] = self.make(entry)
            except Exception as error:  # transport code: a problem of its configuration
                issues.append(ConfigIssue(file, f"transports.{entry.name}", str(error)))
        if issues:
            raise ConfigError(issues)
        return made

    def context(self, name: str) -> TransportContext:
        """The context of the transport named ``name`` (its state loaded on first use)."""
        if name not in self._contexts:
            state = State(self._store, NAMESPACE.format(name), self._fence)
            self._contexts[name] = TransportContext(state, self._mask)
        return self._contexts[name]

    def reload(self) -> None:
        """Read every transport's state from the store again (StoreError when it cannot)."""
        for context in list(self._contexts.values()):
            context.state.reload()


def takes_context(create: Callable[..., object]) -> bool:
    """True when ``create`` has a third positional parameter (or ``*args``)."""
    try:
        parameters = list(inspect.signature(create).parameters.values())
    except (TypeError, ValueError):  # no signature to read: call it the old way
        return False
    positional = [p for p in parameters
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3 or any(p.kind is p.VAR_POSITIONAL for p in parameters)
