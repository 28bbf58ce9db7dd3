"""Two instances, one active: ``[ha]`` as the bot sees it. Layer: core; built on the main
thread at start, asked from any thread.

One object gives the bot what it needs: the ``fence`` its writes carry, the transports
to use (renewed each term; their states are reloaded with the plugins' as a term
begins), the ``gate`` for transport and poller threads, ``quiet`` for pollers to wait
on, ``active`` for the webhook boundary, the ``leader`` thread to supervise, and its
part of ``!status``, ``/healthz`` and sd_notify. With ``[ha]``
off every part lets everything through and the fence is empty (writes not fenced).
See leader.py for the roles and terms.py for what runs only during a term.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import partial

from univac.config import Config
from univac.context import Context
from univac.engine.leader import LEADER, STALE, Hooks, Leader
from univac.engine.maker import TransportMaker
from univac.engine.store import Fence
from univac.engine.terms import Terms
from univac.ops.reports import LeaseReport
from univac.transport import Transport


class HighAvailability:
    """The ``[ha]`` parts of one bot (see the module docstring)."""

    def __init__(self, config: Config, stop: threading.Event,
                 contexts: Mapping[str, Context]) -> None:
        ha = config.ha
        self._config = config
        self._contexts = contexts
        self._maker: TransportMaker | None = None
        self.fence = Fence(STALE if ha.enabled else None)
        self.terms = Terms(ha.enabled, stop, ha.step_down_s)
        self.quiet = self.terms.quiet
        self.active: Callable[[], bool] = self.terms.active
        self.leader: Leader | None = None
        if ha.enabled:
            store = config.store
            open_lease = partial(store.module.open_lease, store.settings, ha.lease_s)
            hooks = Hooks(self.terms, self.fence, self._reload)
            wait = 2 * config.bot.shutdown_timeout_s + ha.step_down_s
            self.leader = Leader(open_lease, ha, hooks, stop_wait_s=wait)

    def transports(self, made: dict[str, Transport],
                   maker: TransportMaker) -> dict[str, Transport]:
        """The transports the bot runs: each renewed at every term when ``[ha]`` is on,
        their states reloaded (with the plugins') before."""
        self._maker = maker
        makers = {entry.name: partial(maker.make, entry) for entry in self._config.transports}
        return self.terms.wrap(made, makers)

    def gate(self, target: Callable[[], None], counted: bool = True) -> Callable[[], None]:
        return self.terms.gate(target, counted)

    def children(self) -> list[tuple[str, Callable[[], None]]]:
        """The threads to supervise besides transports and pollers."""
        return [("leader", self.leader.run)] if self.leader else []

    def report(self) -> LeaseReport | None:
        leader = self.leader
        if leader is None:
            return None
        epoch = leader.epoch if leader.role == LEADER else None
        return LeaseReport(leader.role, epoch, leader.since, leader.detail)

    def role(self) -> str:
        """``leader``, ``taking over`` or ``standby``; empty without ``[ha]``."""
        return self.leader.role if self.leader else ""

    def close(self) -> None:
        """Shutdown has begun: pollers stop, no term begins, the leader gives up."""
        self.terms.close()
        if self.leader is not None:
            self.leader.close()

    def _reload(self) -> None:
        for ctx in list(self._contexts.values()):
            ctx.state.reload()
        if self._maker is not None:
            self._maker.reload()
