"""Alerts in: Alertmanager and PagerDuty v3 webhooks open incidents or join them,
through the real http plugin on 127.0.0.1 (bearer token, PagerDuty's signature,
/metrics), with payloads recorded in the shape their documentation gives."""

from __future__ import annotations

import copy
import json
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.plugins.incidents.helpers import ROLES, Clock, ask, store_of
from tests.waiting import free_port
from univac.kit.alerts import pagerduty_sign
from univac.plugins.incidents.intake import ALERT
from univac.plugins.incidents.model import ordered
from univac.testing import Harness

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"
TOKEN = "alert-token-4242"
PD_SECRET = "pd-signing-secret-9876"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


class Bot:
    """A bot with the http and incidents plugins, and how to post to it."""

    def __init__(self, harness: Harness, port: int) -> None:
        self.harness = harness
        self.base = f"http://127.0.0.1:{port}"

    def post(self, path: str, body: bytes | dict, headers: dict | None = None
             ) -> requests.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return requests.post(f"{self.base}/hooks/incidents/{path}", data=data, timeout=30,
                             headers=BEARER | (headers or {}))

    def pagerduty(self, body: bytes | dict, secret: str = PD_SECRET) -> requests.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.post("pagerduty", data, {"X-PagerDuty-Signature": pagerduty_sign(secret,
                                                                                     data)})

    def incidents(self) -> list[Any]:
        return sorted(store_of(self.harness).incidents(), key=lambda i: i.created_at)

    def number(self, incident_id: str) -> int:
        """The incident's number in ``list`` (incidents opened at once: by id)."""
        return [i.id for i in ordered(self.incidents())].index(incident_id) + 1

    def alert_events(self, incident_id: str) -> list[Any]:
        return store_of(self.harness).events(incident_id, (ALERT,))

    def metric(self, source: str, outcome: str) -> str:
        text = requests.get(f"{self.base}/metrics", timeout=30).text
        wanted = f'incident_alerts_total{{outcome="{outcome}",source="{source}"}} '
        return next((line.split()[-1] for line in text.splitlines()
                     if line.startswith(wanted)), "absent")


class Ticking(Clock):
    """A clock that moves a millisecond each time it is read, as time does: incidents
    opened by one delivery are opened one after the other."""

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Ticking()


@pytest.fixture
def alerts_bot(univac_bot, tmp_path: Path, clock: Clock):
    def make(**settings: Any) -> Bot:
        port = free_port()
        table = {"writers": "sre", "readers": "oncall", "folder": str(tmp_path / "incidents"),
                 "channels": ["test:#sre"], "alert_targets": ["test:#sre", "test:#lobby"],
                 "pagerduty_secret": PD_SECRET,
                 "pagerduty_services": {"Checkout API": "checkout"}}
        harness = univac_bot("http", "incidents", roles=ROLES, clock=clock, settings={
            "http": {"port": port, "webhook_token": TOKEN, "threads": 8},
            "incidents": table | settings})
        return Bot(harness, port)

    return make


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def notification(name: str, *alerts: dict) -> dict:
    """A recorded notification, its alerts replaced by ``alerts`` when given."""
    found = fixture(name)
    if alerts:
        found["alerts"] = list(alerts)
    return found


def refired(alert: dict, starts: str, fingerprint: str = "") -> dict:
    """The alert firing again (a new ``startsAt``), or another alert of its signature."""
    again = copy.deepcopy(alert)
    again["startsAt"] = starts
    again["status"] = "firing"
    again["fingerprint"] = fingerprint or again["fingerprint"]
    return again


def test_a_group_of_firing_alerts_opens_one_incident_per_signature(alerts_bot) -> None:
    bot = alerts_bot()
    reply = bot.post("alertmanager", notification("alertmanager-firing.json"))
    assert reply.status_code == 200 and reply.text == "3 alert(s): 2 opened, 1 appended\n"
    errors, database = bot.incidents()
    assert (errors.title, errors.severity, errors.service, errors.env, errors.status,
            errors.created_by, dict(errors.meta)) == (
        "HighErrorRate: 5xx above 5% on the api", "P1", "api", "prod", "open", "alertmanager",
        {"signature": "HighErrorRate/api/prod", "source": "alertmanager"})
    assert (database.severity, database.service, database.meta["signature"]) == (
        "P3", "postgres", "DatabaseLatencyHigh//prod")
    events = bot.alert_events(errors.id)
    assert [e.meta["key"] for e in events] == ["5b7c4f1e0a9d3e21", "8e2a61d94c0b7f35"]
    assert events[0].message == ("[FIRING] HighErrorRate (critical) api in prod: "
                                 "5xx above 5% on the api")
    assert events[0].actor == "alertmanager"
    said = dict(bot.harness.said())
    one, two = bot.number(errors.id), bot.number(database.id)
    assert said["test:#sre"].splitlines() == [
        f"New incident {errors.id} (#{one}) P1 api (prod) from alertmanager: HighErrorRate: "
        "5xx above 5% on the api",
        f"New incident {database.id} (#{two}) P3 postgres (prod) from alertmanager: "
        "DatabaseLatencyHigh: database latency p99 above 250 ms"]
    assert said["test:#lobby"].splitlines() == [
        f"New incident {errors.id} (#{one}) from an alert; for details ask me in a private "
        "message (or in test:#sre).",
        f"New incident {database.id} (#{two}) from an alert; for details ask me in a "
        "private message (or in test:#sre)."]
    assert bot.metric("alertmanager", "opened") == "2.0"
    assert bot.metric("alertmanager", "appended") == "1.0"


def test_a_repeated_notification_adds_nothing(alerts_bot, clock: Clock) -> None:
    bot = alerts_bot()
    body = notification("alertmanager-firing.json")
    bot.post("alertmanager", body)
    bot.harness.said()
    clock.advance(hours=4)  # Alertmanager's repeat_interval
    reply = bot.post("alertmanager", body)
    assert reply.text == "3 alert(s): 3 duplicate\n"
    errors, _ = bot.incidents()
    assert len(bot.alert_events(errors.id)) == 2 and len(bot.incidents()) == 2
    assert bot.harness.said() == []
    assert bot.metric("alertmanager", "duplicate") == "3.0"


def test_still_firing_after_people_resolved_it_opens_nothing_new(alerts_bot, clock) -> None:
    bot = alerts_bot()
    body = notification("alertmanager-firing.json")
    bot.post("alertmanager", body)
    errors, _ = bot.incidents()
    assert ask(bot.harness, f"!inc resolve {errors.id}") == f"Resolved {errors.id}."
    clock.advance(hours=4)
    assert bot.post("alertmanager", body).text == "3 alert(s): 3 duplicate\n"
    assert len(bot.incidents()) == 2


def test_resolved_alerts_add_events_and_people_resolve(alerts_bot, clock: Clock) -> None:
    bot = alerts_bot()
    bot.post("alertmanager", notification("alertmanager-firing.json"))
    bot.harness.said()
    clock.advance(minutes=25)
    reply = bot.post("alertmanager", notification("alertmanager-resolved.json"))
    assert reply.text == "2 alert(s): 2 appended\n"
    errors, _ = bot.incidents()
    assert errors.status == "open"
    assert [e.meta["status"] for e in bot.alert_events(errors.id)] == [
        "firing", "firing", "resolved", "resolved"]
    assert bot.harness.said() == []
    show = ask(bot.harness, f"!inc show {errors.id}")
    assert "alertmanager alert: [RESOLVED] HighErrorRate (critical) api in prod" in show


def test_with_alert_resolves_the_last_resolved_alert_resolves_it(alerts_bot, clock) -> None:
    bot = alerts_bot(alert_resolves=True)
    bot.post("alertmanager", notification("alertmanager-firing.json"))
    bot.harness.said()
    first, second = fixture("alertmanager-resolved.json")["alerts"]
    clock.advance(minutes=25)
    bot.post("alertmanager", notification("alertmanager-resolved.json", first))
    errors, _ = bot.incidents()
    assert errors.status == "open"  # api2 still fires
    bot.post("alertmanager", notification("alertmanager-resolved.json", second))
    errors, _ = bot.incidents()
    assert errors.status == "resolved" and errors.resolved_at is not None
    assert dict(bot.harness.said())["test:#sre"] == (
        f"Resolved {errors.id} (#{bot.number(errors.id)}): its alerts resolved.")


def test_within_the_cooldown_a_refiring_alert_joins_even_a_resolved_incident(
        alerts_bot, clock: Clock) -> None:
    bot = alerts_bot()
    alert = fixture("alertmanager-firing.json")["alerts"][0]
    bot.post("alertmanager", notification("alertmanager-firing.json", alert))
    (opened,) = bot.incidents()
    ask(bot.harness, f"!inc resolve {opened.id}")
    bot.harness.said()
    clock.advance(minutes=10)
    reply = bot.post("alertmanager", notification(
        "alertmanager-firing.json", refired(alert, "2026-03-02T09:08:30Z")))
    assert reply.text == "1 alert(s): 1 cooled\n"
    (same,) = bot.incidents()
    assert same.id == opened.id and same.status == "resolved"
    said = dict(bot.harness.said())
    assert said["test:#sre"] == (
        f"HighErrorRate/api/prod fired again on {same.id} (#1), which is resolved; if the "
        f"problem is back: !incident reopen {same.id}")
    assert said["test:#lobby"].startswith(f"An alert fired again on {same.id} (#1), which")
    clock.advance(minutes=6)  # 16 minutes after it was opened: the cooldown is over
    reply = bot.post("alertmanager", notification(
        "alertmanager-firing.json", refired(alert, "2026-03-02T09:14:30Z")))
    assert reply.text == "1 alert(s): 1 opened\n"
    assert [i.status for i in bot.incidents()] == ["resolved", "open"]
    assert bot.metric("alertmanager", "cooled") == "1.0"


def test_an_open_incident_takes_its_signature_after_the_cooldown(alerts_bot, clock) -> None:
    bot = alerts_bot(alert_cooldown_s=60)
    alert = fixture("alertmanager-firing.json")["alerts"][0]
    bot.post("alertmanager", notification("alertmanager-firing.json", alert))
    clock.advance(hours=2)
    reply = bot.post("alertmanager", notification(
        "alertmanager-firing.json", refired(alert, "2026-03-02T10:58:30Z", "ffff000011112222")))
    assert reply.text == "1 alert(s): 1 appended\n"
    assert len(bot.incidents()) == 1


def test_two_deliveries_of_one_signature_at_once_open_one_incident(alerts_bot) -> None:
    bot = alerts_bot()
    alert = fixture("alertmanager-firing.json")["alerts"][0]
    bodies = [notification("alertmanager-firing.json",
                           refired(alert, f"2026-03-02T08:5{n}:00Z", f"{n:016x}"))
              for n in range(8)]
    start = threading.Barrier(len(bodies), timeout=30)
    replies: list[str] = []

    def deliver(body: dict) -> None:
        start.wait()
        replies.append(bot.post("alertmanager", body).text)

    threads = [threading.Thread(target=deliver, args=(b,)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(replies) == ["1 alert(s): 1 appended\n"] * 7 + ["1 alert(s): 1 opened\n"]
    (incident,) = bot.incidents()
    assert len(bot.alert_events(incident.id)) == 8


def test_requests_without_the_token_or_with_a_bad_body_are_refused(alerts_bot) -> None:
    bot = alerts_bot()
    url = f"{bot.base}/hooks/incidents/alertmanager"
    assert requests.post(url, data=b"{}", timeout=30).status_code == 401
    bad = bot.post("alertmanager", b"{not json")
    assert (bad.status_code, bad.text) == (400, "the body is not valid JSON")
    wrong = bot.post("alertmanager", {"alerts": 3})
    assert wrong.status_code == 400 and "list of alerts" in wrong.text
    assert "Traceback" not in bad.text + wrong.text and bot.incidents() == []


def test_pagerduty_triggered_acknowledged_resolved(alerts_bot, clock: Clock) -> None:
    bot = alerts_bot()
    reply = bot.pagerduty((FIXTURES / "pagerduty-triggered.json").read_bytes())
    assert reply.status_code == 200 and reply.text == "1 alert(s): 1 opened\n"
    (incident,) = bot.incidents()
    assert (incident.title, incident.severity, incident.service, incident.env,
            incident.created_by, incident.meta["signature"]) == (
        "Checkout payments failing", "P1", "checkout", "prod", "pagerduty",
        "Checkout payments failing/checkout/prod")
    clock.advance(minutes=3)
    assert bot.pagerduty((FIXTURES / "pagerduty-acknowledged.json").read_bytes()).text == \
        "1 alert(s): 1 appended\n"
    clock.advance(minutes=40)
    assert bot.pagerduty((FIXTURES / "pagerduty-resolved.json").read_bytes()).text == \
        "1 alert(s): 1 appended\n"
    assert [e.meta["status"] for e in bot.alert_events(incident.id)] == [
        "firing", "acknowledged", "resolved"]
    (incident,) = bot.incidents()
    assert incident.status == "open"
    again = bot.pagerduty((FIXTURES / "pagerduty-triggered.json").read_bytes())
    assert again.text == "1 alert(s): 1 duplicate\n"
    assert bot.metric("pagerduty", "opened") == "1.0"


def test_pagerduty_signatures_are_required(alerts_bot) -> None:
    bot = alerts_bot()
    body = (FIXTURES / "pagerduty-triggered.json").read_bytes()
    missing = bot.post("pagerduty", body)
    assert (missing.status_code, missing.text) == (401, "X-PagerDuty-Signature is missing\n")
    forged = bot.pagerduty(body, "another-secret")
    assert (forged.status_code, forged.text) == (
        401, "X-PagerDuty-Signature does not match the body\n")
    rotated = bot.post("pagerduty", body, {"X-PagerDuty-Signature":
                                           f"v1={'0' * 64},{pagerduty_sign(PD_SECRET, body)}"})
    assert rotated.status_code == 200
    garbage = bot.pagerduty(b"[1, 2]")
    assert garbage.status_code == 400 and "PagerDuty v3" in garbage.text
    annotated = fixture("pagerduty-triggered.json")
    annotated["event"]["event_type"] = "incident.annotated"
    other = bot.pagerduty(annotated)
    assert (other.status_code, other.text) == (202, "event incident.annotated is not taken\n")
    assert len(bot.incidents()) == 1


def test_without_a_pagerduty_secret_nothing_is_taken(alerts_bot) -> None:
    bot = alerts_bot(pagerduty_secret="")
    body = (FIXTURES / "pagerduty-triggered.json").read_bytes()
    reply = bot.pagerduty(body, "")
    assert reply.status_code == 401 and "pagerduty_secret is not set" in reply.text
    assert bot.incidents() == []


def test_without_alert_targets_the_transport_channels_are_told(alerts_bot) -> None:
    bot = alerts_bot(alert_targets=[], channels=["#ops", "test:#sre"])
    bot.post("alertmanager", notification("alertmanager-firing.json"))
    assert [where for where, _ in bot.harness.said()] == ["test:#sre"]
