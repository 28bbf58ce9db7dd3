"""Plugin events of the incidents plugin: ``incidents.alert`` told to other plugins,
``incidents.timeline`` lines written on an incident's timeline."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.incidents import alert_listener
from tests.plugins.incidents.helpers import ROLES, store_of
from tests.plugins.incidents.test_alerts import TOKEN, Bot, Ticking, notification
from tests.waiting import free_port
from univac.kit.alerts import Alert

LISTENER = str(Path(alert_listener.__file__))


@pytest.fixture
def listening_bot(univac_bot, tmp_path: Path):
    def make(*plugins: str) -> Bot:
        port = free_port()
        table = {"writers": "sre", "readers": "oncall", "folder": str(tmp_path / "incidents"),
                 "channels": ["test:#sre"], "alert_targets": ["test:#sre"]}
        harness = univac_bot("http", "incidents", *plugins, roles=ROLES, clock=Ticking(),
                             settings={"http": {"port": port, "webhook_token": TOKEN},
                                       "incidents": table})
        return Bot(harness, port)

    return make


def timeline(bot: Bot, incident_id: str) -> list[tuple[str, str, str]]:
    return [(e.type, e.actor, e.message) for e in store_of(bot.harness).events(incident_id)]


def test_other_plugins_hear_alerts_and_write_on_the_timeline(listening_bot) -> None:
    bot = listening_bot(LISTENER)
    reply = bot.post("alertmanager", notification("alertmanager-firing.json"))
    assert reply.text == "3 alert(s): 2 opened, 1 appended\n"
    errors, database = bot.incidents()
    lines = [line for line in timeline(bot, errors.id) if line[0] == "runbook"]
    assert lines == [("runbook", "plugin:alert_listener", "heard HighErrorRate in prod (opened)"),
                     ("runbook", "plugin:alert_listener", "heard HighErrorRate in prod (appended)")]
    assert ("runbook", "plugin:alert_listener", "heard DatabaseLatencyHigh in prod (opened)") in \
        timeline(bot, database.id)
    event = store_of(bot.harness).events(errors.id, ("runbook",))[0]
    assert event.meta == {"plugin": "alert_listener", "nick": "alert_listener"}


def test_a_repeated_report_is_not_told_again(listening_bot) -> None:
    bot = listening_bot(LISTENER)
    body = notification("alertmanager-firing.json")
    bot.post("alertmanager", body)
    bot.post("alertmanager", body)
    errors, _ = bot.incidents()
    assert len([t for t in timeline(bot, errors.id) if t[0] == "runbook"]) == 2


def test_a_line_passing_for_an_alert_or_for_no_incident_is_refused(listening_bot,
                                                                   caplog) -> None:
    bot = listening_bot(LISTENER)
    firing = notification("alertmanager-firing.json")
    pretender = copy.deepcopy(firing["alerts"][0])
    pretender["labels"]["alertname"] = "Pretender"
    with caplog.at_level(logging.WARNING):
        bot.post("alertmanager", notification("alertmanager-firing.json", pretender))
    (incident,) = bot.incidents()
    assert [t[0] for t in timeline(bot, incident.id)] == ["created", "alert"]
    assert "'alert' is no event type another plugin may write" in caplog.text
    ctx = bot.harness.bot.contexts["alert_listener"]
    assert ctx.emit("incidents.timeline", incident="inc_20260101_0000_nope", message="x") == 0
    assert ctx.emit("incidents.timeline", incident=incident.id) == 0
    assert ctx.emit("incidents.timeline", incident=incident.id, message="by hand") == 1
    assert timeline(bot, incident.id)[-1] == ("note", "plugin:alert_listener", "by hand")


def test_an_alert_goes_through_plain_fields_and_back() -> None:
    alert = Alert("alertmanager", "firing", "DiskFull", "critical", "db", "prod", "no space",
                  "fp1", "fp1:2026", "2026-12-06T10:00:00Z", "http://prom",
                  {"alertname": "DiskFull"}, {"summary": "no space"})
    fields: dict[str, Any] = alert.fields()
    assert fields["labels"] == {"alertname": "DiskFull"} and type(fields["labels"]) is dict
    assert Alert.of_fields(fields) == alert
    with pytest.raises(Exception, match="not an alert"):
        Alert.of_fields({"source": "alertmanager"})
