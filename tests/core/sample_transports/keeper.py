"""A sample transport that keeps a count of its runs in the state store (tests only).

Each ``run`` reads ``runs`` from its ``TransportContext.state``, records what it found in
``FOUND`` (by the ``label`` setting), writes ``runs + 1`` and masks its ``secret``
setting's value as a secret learnt at run time; then it waits until stopped.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from univac import Deliver, StoreError, TransportContext, TransportStatus

FOUND: list[tuple[str, int]] = []
"""(label, runs found) for each run, in order; tests clear it."""


@dataclass(frozen=True)
class Settings:
    label: str = "keeper"
    learnt: str = ""
    """A value the transport "learns" at run time and has masked."""


def create(name: str, settings: Settings, context: TransportContext) -> Keeper:
    if settings.label == "broken":
        raise ValueError("cannot make a broken keeper")
    return Keeper(name, settings, context)


class Keeper:
    def __init__(self, name: str, settings: Settings, context: TransportContext) -> None:
        self.name, self.settings, self.context = name, settings, context
        self.stopped = threading.Event()
        self.state = "starting"
        self.sent: list[tuple[str, str]] = []

    def run(self, deliver: Deliver) -> None:
        runs = self.context.state.get("runs", 0)
        FOUND.append((self.settings.label, runs))
        try:
            self.context.state["runs"] = runs + 1
        except StoreError:
            FOUND.append((self.settings.label, -1))
        if self.settings.learnt:
            self.context.mask(self.settings.learnt)
        self.state = "connected"
        self.stopped.wait(60)
        self.state = "stopped"

    def send(self, target: str, text: str) -> None:
        self.sent.append((target, text))

    def stop(self, goodbye: str = "") -> None:
        self.stopped.set()

    def status(self) -> TransportStatus:
        return TransportStatus(self.state)
