"""The tracker interface left for mirroring incidents elsewhere (Phabricator next): every
saved change is shown to the tracker; its references are kept on the incident and name
it in commands; a tracker that fails never loses the change."""

from __future__ import annotations

from datetime import UTC, datetime

from univac.plugins.incidents.service import Actor, Incidents
from univac.plugins.incidents.settings import Settings
from univac.plugins.incidents.stores.jsonl import JsonlStore
from univac.plugins.incidents.tracker import Change, NoTracker, TrackerError, tracker_for

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ALICE = Actor("account:alice", "alice")


class Recording:
    """A tracker that numbers tasks like Phabricator and remembers what it was shown."""

    name = "recording"

    def __init__(self, fail: bool = False) -> None:
        self.changes: list[Change] = []
        self.fail = fail

    def mirror(self, change: Change) -> dict[str, str]:
        if self.fail:
            raise TrackerError("the tracker did not answer")
        self.changes.append(change)
        return {"recording": "T123"} if change.event.type == "created" else {}


def service(tmp_path, tracker) -> Incidents:
    return Incidents(JsonlStore(tmp_path), Settings(writers="sre"), tracker)


def test_every_change_reaches_the_tracker_and_its_reference_names_the_incident(tmp_path):
    tracker = Recording()
    incidents = service(tmp_path, tracker)
    done = incidents.create("Gateway 5xx", ALICE, NOW)
    assert done.incident.refs == {"recording": "T123"}
    incidents.log("T123", "rolled back", ALICE, NOW)  # Corto's users name Phabricator tasks
    incidents.set_coordinator("T123", "carol", ALICE, NOW)
    incidents.set_status("T123", "resolve", ALICE, NOW)
    assert [c.event.type for c in tracker.changes] == ["created", "comment", "coordinator",
                                                       "status"]
    assert tracker.changes[-1].incident.status == "resolved"
    assert tracker.changes[0].document == f"{done.incident.id}/document.md in the JSON lines folder"
    assert JsonlStore(tmp_path).incident(done.incident.id).refs == {"recording": "T123"}


def test_a_failing_tracker_never_loses_the_change(tmp_path):
    incidents = service(tmp_path, Recording(fail=True))
    done = incidents.create("Gateway 5xx", ALICE, NOW)
    assert done.lag == "not mirrored to recording: the tracker did not answer"
    assert JsonlStore(tmp_path).incident(done.incident.id) is not None


def test_the_default_is_no_tracker():
    assert isinstance(tracker_for(Settings(writers="sre")), NoTracker)
    assert NoTracker().mirror(None) == {}  # type: ignore[arg-type]
