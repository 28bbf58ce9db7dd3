"""The rules of alerts in, apart from HTTP: signatures, titles, severities, the settings,
and one signature's deliveries taken one at a time."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.plugins.incidents.helpers import ROLES, START, Clock
from tests.waiting import wait_for
from univac import SettingsError
from univac.kit.alerts import Alert
from univac.plugins.incidents.intake import Intake, event_id, severity_of, signature, title_of
from univac.plugins.incidents.settings import Settings


def alert(fingerprint: str = "f1", status: str = "firing", **labels: str) -> Alert:
    chosen = {"alertname": "HighErrorRate", "service": "api", "env": "prod"} | labels
    return Alert("alertmanager", status, chosen["alertname"], "critical", chosen["service"],
                 chosen["env"], "5xx above 5%", fingerprint,
                 f"{fingerprint}@2026-03-02T08:58:30Z:{status}", labels=chosen)


def test_the_signature_is_the_labels_values_joined() -> None:
    assert signature(alert(), ("alertname", "service", "env")) == "HighErrorRate/api/prod"
    assert signature(alert(), ("alertname", "team", "env")) == "HighErrorRate//prod"
    assert signature(alert(), ("alertname",)) == "HighErrorRate"


def test_a_report_has_one_event_id_and_another_report_another() -> None:
    assert event_id(alert()) == event_id(alert())
    assert event_id(alert()) != event_id(alert(status="resolved"))
    assert event_id(alert()).startswith("ev_") and len(event_id(alert())) == 19


def test_titles_name_the_alert_and_say_its_summary() -> None:
    assert title_of(alert()) == "HighErrorRate: 5xx above 5%"
    pagerduty = Alert("pagerduty", "firing", "PagerDuty #7", "P1", "api", "prod",
                      "Checkout down", "Q1", "e1", labels={"alertname": "Checkout down"})
    assert title_of(pagerduty) == "Checkout down"
    bare = Alert("alertmanager", "firing", "DiskFull", "", "", "", "", "k", "o",
                 labels={"alertname": "DiskFull"})
    assert title_of(bare) == "DiskFull"


def test_severities_map_through_the_settings() -> None:
    settings = Settings(writers="sre", alert_severities={"Critical": "P0", "page": "P1"})
    assert severity_of("critical", settings) == "P0"
    assert severity_of("PAGE", settings) == "P1"
    assert severity_of("p2", settings) == "P2"
    assert severity_of("warning", settings) == "P2"  # not mapped: default_severity
    assert severity_of("warning", Settings(writers="sre")) == "P3"  # the default map


def test_bad_alert_settings_are_named() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings(writers="sre", alert_severities={"critical": "P4", "page": "sev1"},
                 alert_labels=(), alert_cooldown_s=-1, correlate_window_s=0, correlate_top=0)
    text = str(caught.value)
    for key in ("alert_severities", "alert_labels", "alert_cooldown_s", "correlate_window_s",
                "correlate_top"):
        assert key in text, key
    assert "critical, page" in text


class Meeting:
    """A store whose first reader of the incidents waits, after reading, until another
    thread has read them too, or is queued for the same signature's lock. Without the
    lock both deliveries would see no incident, and both would open one."""

    def __init__(self, store: Any, intake: Intake, mark: str) -> None:
        self._store = store
        self._intake = intake
        self._mark = mark
        self._lock = threading.Lock()
        self.readers: list[int] = []

    def incidents(self) -> Any:
        found = self._store.incidents()
        with self._lock:
            first = not self.readers
            if threading.get_ident() not in self.readers:
                self.readers.append(threading.get_ident())
        if first:
            wait_for(lambda: len(self.readers) >= 2 or self._queued(), timeout=30,
                     what="a second delivery")
        return found

    def _queued(self) -> bool:
        return self._intake._locks.get(self._mark, (None, 0))[1] >= 2

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_one_signature_is_taken_one_delivery_at_a_time(univac_bot, tmp_path) -> None:
    bot = univac_bot("incidents", roles=ROLES, clock=Clock(), settings={"incidents": {
        "writers": "sre", "folder": str(tmp_path / "incidents")}})
    incidents = bot.bot.contexts["incidents"].shared.incidents
    intake = Intake(incidents, incidents.settings)
    meeting = Meeting(incidents.store, intake, "HighErrorRate/api/prod")
    incidents.store = meeting
    outcomes: list[str] = []
    threads = [threading.Thread(target=lambda f=f: outcomes.append(
        intake.take(alert(f), START).outcome)) for f in ("f1", "f2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(outcomes) == ["appended", "opened"]
    assert len(meeting.incidents()) == 1
