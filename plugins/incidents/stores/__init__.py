"""Where incident records live: the contract every incident store keeps. Any thread.

Three stores, chosen by the plugin's ``store`` setting: ``jsonl`` (a folder of JSON
lines files, the default), ``postgres`` (three tables) and ``auto`` (PostgreSQL, with
the JSON lines folder as its journal and its fallback). Each offers:

- ``write(batch)``: save one change (``model.Batch``), idempotently: an event or
  artifact whose id is known, or a snapshot whose version is not newer, is skipped.
  Returns when the records are durable; ``StoreError`` (its text is for chat) when
  nothing could be saved.
- ``incidents()``, ``incident(id)``, ``events(incident_id, types)``, ``artifacts(id)``,
  ``content(artifact)``: reads; ``events`` and ``artifacts`` without an incident id
  read them all (handover notes have none, and are read by their type).
- ``check()``: the health check the plugin's poller runs (``StoreDown`` when nothing
  can be saved); it is also where ``auto`` tries PostgreSQL again (running on its
  JSON lines folder alone is no failure: ``health()`` says it).
- ``health()``: what ``!incident status`` shows.
- ``close()``.

Snapshots: ``incidents()`` gives each incident's newest snapshot only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from univac import StoreError

from ..model import Artifact, Batch, Event, Incident


class StoreDown(StoreError):
    """The store cannot be used right now (its text is for chat; details in the log)."""


@dataclass(frozen=True)
class Health:
    """The active backend and what an operator should know about it."""

    store: str
    """The configured store: ``jsonl``, ``postgres`` or ``auto``."""
    active: str
    """Where records go now: ``jsonl`` or ``postgres``."""
    detail: str = ""
    problems: tuple[str, ...] = ()
    summary: str = ""
    """One short line for ``!status`` and ``/healthz`` (no paths, no error texts)."""


class IncidentStore(Protocol):
    """What the plugin asks of a store (see the module docstring)."""

    def write(self, batch: Batch) -> None: ...

    def incidents(self) -> list[Incident]: ...

    def incident(self, incident_id: str) -> Incident | None: ...

    def events(self, incident_id: str | None = None,
               types: Collection[str] = ()) -> list[Event]: ...

    def artifacts(self, incident_id: str | None = None) -> list[Artifact]: ...

    def content(self, artifact: Artifact) -> bytes: ...

    def check(self) -> None: ...

    def health(self) -> Health: ...

    def close(self) -> None: ...
