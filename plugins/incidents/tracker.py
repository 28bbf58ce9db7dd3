"""Trackers: where incidents are mirrored (none by default). Any thread.

The incident log is the source of truth: a change is saved in the store first, then
shown to the tracker with ``mirror``. A tracker that fails raises ``TrackerError``
with a text for chat ("Phabricator did not answer"); the change stays saved and the
reply says that the mirror lags. What a tracker gives back (``refs``, such as
``{"phabricator": "T123"}``) is saved on the incident, so that users can name the
incident by the tracker's reference too (``log T123 ...``).

A tracker is a small object::

    class Tracker(Protocol):
        name: str
        def mirror(self, change: Change) -> dict[str, str]: ...
        def close(self) -> None: ...

``Change`` tells what happened: the incident after the change, the timeline event that
recorded it (``created``, ``comment``, ``severity``, ``coordinator``, ``status``,
``followup``...), and the incident's document link. ``tracker_for(settings)`` picks
the configured one: ``NoTracker``, or the ``phabricator`` tracker (``phabricator.py``,
over Conduit in ``conduit.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from univac import UserError

from .model import Event, Incident


class TrackerError(UserError):
    """The tracker did not take a change (its text is for chat; details in the log)."""


@dataclass(frozen=True)
class Change:
    """One saved change, as a tracker sees it."""

    incident: Incident
    event: Event
    document: str
    """Where the incident's working document is (a link, or the artifact's path)."""


class Tracker(Protocol):
    """Mirrors incidents somewhere else (see the module docstring)."""

    name: str

    def mirror(self, change: Change) -> dict[str, str]:
        """Show ``change`` to the tracker; new references to keep on the incident."""
        ...

    def close(self) -> None:
        """Let go of connections (the plugin's teardown)."""
        ...


class NoTracker:
    """Incidents live in the incident log only."""

    name = "none"

    def mirror(self, change: Change) -> dict[str, str]:
        return {}

    def close(self) -> None:
        """Nothing to let go of."""


def tracker_for(settings: Any) -> Tracker:
    """The tracker the ``tracker`` setting names."""
    if settings.tracker == "phabricator":
        from .phabricator import PhabricatorTracker  # it imports this module

        return PhabricatorTracker.from_settings(settings)
    return NoTracker()
