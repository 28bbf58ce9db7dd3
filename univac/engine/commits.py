"""Group commit: one writer thread makes every plugin's state changes durable. Layer: core.

Threads: ``commit`` is called by any thread (``State``, under the plugin's lock); the
``store:writer`` thread writes. ``CommitQueue`` wraps a store and keeps its contract
(store.py): ``commit`` hands the changes to the writer and returns at once with a wait
that returns when they are durable (or raises the store's error). The writer takes
everything queued, commits each transaction in order and then waits for durability
once for all of them (the SQLite store syncs its log once for the batch; PostgreSQL
commits are durable one by one already).

Why: with several threads changing state at once (webhook deliveries, say), each one
committing and syncing for itself meant a convoy of threads handing the plugin's lock,
the store's lock and the sync to one another, each hand-over a thread switch; the
webhook benchmark (performance.md) measured it. Now a thread holds the plugin's lock
only to queue its changes, and waits once, for one event.

Order: transactions are written in the order they were queued, and ``State`` queues
under the plugin's lock, so a plugin's changes land in the order it made them. A read
(``load``) waits for what was queued before it, so a reload never misses a change.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from univac.engine.store import Store

log = logging.getLogger("univac.store")


@dataclass
class Ticket:
    """One queued transaction (``changes`` None: a barrier that only waits its turn)."""

    namespace: str
    changes: Mapping[str, str | None] | None
    epoch: int | None
    error: BaseException | None = None
    _pending: threading.Lock = field(default_factory=threading.Lock)
    """Held until the outcome is known: a plain lock, cheaper to hand over than an Event."""

    def __post_init__(self) -> None:
        self._pending.acquire()

    def finish(self, error: BaseException | None) -> None:
        self.error = error
        self._pending.release()

    def wait(self) -> None:
        with self._pending:
            pass
        if self.error is not None:
            raise self.error


class CommitQueue:
    """A store whose commits are written, and made durable in groups, by one thread."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: queue.SimpleQueue[Ticket | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._run, name="store:writer", daemon=True)
        self._writer.start()

    def load(self, namespace: str) -> dict[str, str]:
        self._submit(Ticket(namespace, None, None)).wait()
        return self.store.load(namespace)

    def commit(self, namespace: str, changes: Mapping[str, str | None],
               epoch: int | None) -> Callable[[], None]:
        return self._submit(Ticket(namespace, dict(changes), epoch)).wait

    def append_audit(self, record: str, epoch: int | None) -> None:
        self.store.append_audit(record, epoch)

    def migrate(self, dry_run: bool = False) -> list[str]:
        return self.store.migrate(dry_run)

    def close(self) -> None:
        """Write what is queued, stop the writer, close the store."""
        if self._writer.is_alive():
            self._queue.put(None)
            self._writer.join()
        self.store.close()

    def _submit(self, ticket: Ticket) -> Ticket:
        if not self._writer.is_alive():
            ticket.finish(RuntimeError("the state store is closed"))
        else:
            self._queue.put(ticket)
        return ticket

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            tickets = [t for t in batch if t is not None]
            self._write(tickets)
            if len(tickets) < len(batch):
                return

    def _write(self, tickets: list[Ticket]) -> None:
        """Commit each transaction in order, then wait once for durability. After a
        failed one, the same plugin's later ones in the batch fail with it: they may
        have read what it wrote."""
        many = getattr(self.store, "commit_many", None)
        if many is not None and len({t.epoch for t in tickets}) == 1:
            self._write_together(tickets, many)
            return
        written: list[tuple[Ticket, Callable[[], None] | None]] = []
        failed: dict[str, Exception] = {}
        for ticket in tickets:
            if ticket.changes is None:
                written.append((ticket, None))
            elif ticket.namespace in failed:
                ticket.finish(failed[ticket.namespace])
            else:
                try:
                    written.append((ticket, self.store.commit(
                        ticket.namespace, ticket.changes, ticket.epoch)))
                except Exception as error:  # the store's error goes to the waiting thread
                    failed[ticket.namespace] = error
                    ticket.finish(error)
        for ticket, durable in written:
            try:
                if durable is not None:
                    durable()
                ticket.finish(None)
            except Exception as error:  # the same: the waiting thread raises it
                ticket.finish(error)

    def _write_together(self, tickets: list[Ticket], many: Callable[..., Any]) -> None:
        """One transaction for the whole batch (a store that offers ``commit_many``):
        all of it lands, or all of it fails."""
        work = [(t.namespace, t.changes) for t in tickets if t.changes is not None]
        try:
            durable = many(work, tickets[0].epoch) if work else None
            if durable is not None:
                durable()
            error = None
        except Exception as failure:  # the store's error goes to every waiting thread
            error = failure
        for ticket in tickets:
            ticket.finish(error)
