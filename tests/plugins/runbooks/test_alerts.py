"""Alerts in: Alertmanager and PagerDuty v3 webhooks post the alert and its runbook step;
a safe step runs on its own. Routes are called as the http plugin calls them, and once
through the real http plugin (bearer token, PagerDuty signature, /metrics)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from pathlib import Path

import requests

from tests.plugins.runbooks.helpers import FIXTURES, ROLES, audit, counter, make_bot, settings
from tests.waiting import free_port, wait_for
from univac import WebhookRequest

ALERTS = FIXTURES / "alerts"
PD_SECRET = "pd-signing-secret-1234"


def notification(*names: str, **changes: str) -> dict:
    """The fixture notification with only the named alerts (labels changed as given)."""
    payload = json.loads((ALERTS / "alertmanager.json").read_text())
    payload["alerts"] = [a for a in payload["alerts"] if a["labels"]["alertname"] in names]
    for alert in payload["alerts"]:
        alert["labels"].update(changes)
    return payload


def call(bot, path: str, body: bytes, headers: dict | None = None):
    routes = {route.path: route for route in bot.bot.webhooks()}
    return routes[path].call(WebhookRequest("POST", path, headers or {}, body))


def said_until(bot, fragment: str, timeout: float = 30.0) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []

    def arrived() -> bool:
        seen.extend(bot.said())
        return any(fragment in text for _, text in seen)

    wait_for(arrived, timeout=timeout, what=f"{fragment!r}; saw {seen}")
    return seen


def pd_signature(body: bytes, secret: str = PD_SECRET) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_an_alert_gets_its_context_and_the_step_to_start_with(univac_bot, tmp_path) -> None:
    bot = make_bot(univac_bot, tmp_path, alert_environment="staging")
    body = json.dumps(notification("RedisMemoryHigh", "HighLatency")).encode()
    reply = call(bot, "/runbooks/alertmanager", body)
    assert reply.status == 200 and reply.payload() == b"posted 2 alert(s)\n"
    assert bot.said() == [
        ("test:#ops", "[FIRING] RedisMemoryHigh (warning) cache in staging: memory above 90%"),
        ("test:#ops", "Runbook: clear-cache: Clear the Redis cache (needs 1 approval from "
                      "'approvers' (not the requester)): runbook run clear-cache staging"),
        ("test:#ops", "[RESOLVED] HighLatency (warning) web in staging: p99 back under 300 ms"),
    ]
    assert bot.ask("!runbook next", target="#ops") == [
        "Next [FIRING] RedisMemoryHigh (warning) cache in staging: memory above 90%: "
        "clear-cache: Clear the Redis cache (needs 1 approval from 'approvers' (not the "
        "requester)): runbook run clear-cache staging"]
    assert audit(tmp_path) == []


def test_an_alert_in_prod_offers_only_a_promoted_step(univac_bot, tmp_path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    call(bot, "/runbooks/alertmanager", json.dumps(notification("RedisMemoryHigh")).encode())
    lines = [text for _, text in bot.said()]
    assert lines[0] == "[FIRING] RedisMemoryHigh (warning) cache in prod: memory above 90%"
    assert lines[1].startswith("No safe runbook step: clear-cache version ")
    assert lines[1].endswith("is not promoted to prod; promote it with 'univac runbook "
                             "promote' and evidence first.")


def test_a_safe_step_runs_on_its_own_once_per_alert(univac_bot, tmp_path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    body = json.dumps(notification("DiskFull")).encode()
    call(bot, "/runbooks/alertmanager", body)
    seen = said_until(bot, "collect-diagnostics in staging: ok")
    texts = [text for _, text in seen]
    assert texts[:3] == [
        "[FIRING] DiskFull (critical) disk in staging: no space left on /var (97% used)",
        "Runbook: collect-diagnostics: Collect disk diagnostics (safe for automation): "
        "runbook run collect-diagnostics staging",
        "Running collect-diagnostics in staging on its own (safe for automation).",
    ]
    assert "> df: 97% used" in texts
    wait_for(lambda: "ok" in [r["outcome"] for r in audit(tmp_path)], timeout=30)
    records = audit(tmp_path)
    assert [r["outcome"] for r in records] == ["requested", "started", "ok"]
    assert {(r["requester"], r["trigger"]) for r in records} == {
        ("alert:alertmanager", "alertmanager")}
    assert "identity" not in records[-1]
    assert counter(bot, "disk", "collect-diagnostics", "ok") == 1
    assert bot.ask("!runbook next", target="#ops") == [
        "Next after collect-diagnostics: ok: wipe-tmp: Wipe temporary files (needs 2 "
        "approvals from 'approvers' (not the requester)): runbook run wipe-tmp staging"]

    call(bot, "/runbooks/alertmanager", body)
    again = [text for _, text in bot.said()]
    assert again[0].startswith("[FIRING] DiskFull") and len(again) == 2
    assert not any("on its own" in text for text in again)


def test_an_alert_may_name_the_channel_it_belongs_in(univac_bot, tmp_path) -> None:
    bot = make_bot(univac_bot, tmp_path, alert_environment="staging")
    routed = notification("HighLatency", chat_target="test:#incident-42")
    routed["alerts"][0]["status"] = "firing"
    call(bot, "/runbooks/alertmanager", json.dumps(routed).encode())
    assert [where for where, _ in bot.said()] == ["test:#incident-42", "test:#incident-42"]
    lost = notification("HighLatency", chat_target="nowhere:#x")
    call(bot, "/runbooks/alertmanager", json.dumps(lost).encode())
    assert [where for where, _ in bot.said()] == ["test:#ops"]


def test_an_unknown_environment_gets_no_step(univac_bot, tmp_path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    call(bot, "/runbooks/alertmanager", json.dumps(notification("DiskFull", env="qa")).encode())
    assert [text for _, text in bot.said()][1] == (
        "No step offered: qa is not a known environment.")
    assert audit(tmp_path) == []


def test_a_notification_without_alerts_is_a_400(univac_bot, tmp_path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    reply = call(bot, "/runbooks/alertmanager", b'{"alerts": 3}')
    assert reply.status == 400 and b"list of alerts" in reply.payload()


def pagerduty_bot(univac_bot, tmp_path: Path):
    return make_bot(univac_bot, tmp_path, pagerduty_secret=PD_SECRET, alert_environment="staging",
                    pagerduty_services={"Redis": "cache"})


def test_a_signed_pagerduty_incident_is_posted_once(univac_bot, tmp_path) -> None:
    bot = pagerduty_bot(univac_bot, tmp_path)
    body = (ALERTS / "pagerduty-triggered.json").read_bytes()
    rotated = f"v1={'0' * 64},{pd_signature(body)}"
    reply = call(bot, "/runbooks/pagerduty", body, {"X-PagerDuty-Signature": rotated})
    assert reply.status == 200
    assert bot.said() == [
        ("test:#ops", "[FIRING] PagerDuty #1042 (P2) cache in staging: [FIRING:1] "
                      "RedisMemoryHigh redis1:9121"),
        ("test:#ops", "Runbook: clear-cache: Clear the Redis cache (needs 1 approval from "
                      "'approvers' (not the requester)): runbook run clear-cache staging"),
    ]
    again = call(bot, "/runbooks/pagerduty", body, {"X-PagerDuty-Signature": pd_signature(body)})
    assert again.payload() == b"this event was already handled\n" and bot.said() == []


def test_pagerduty_signatures_are_checked(univac_bot, tmp_path) -> None:
    bot = pagerduty_bot(univac_bot, tmp_path)
    body = (ALERTS / "pagerduty-triggered.json").read_bytes()
    assert call(bot, "/runbooks/pagerduty", body).status == 401
    forged = call(bot, "/runbooks/pagerduty", body,
                  {"X-PagerDuty-Signature": pd_signature(body, "another-secret")})
    assert forged.status == 403
    tampered = body.replace(b"P2", b"P1")
    assert call(bot, "/runbooks/pagerduty", tampered,
                {"X-PagerDuty-Signature": pd_signature(body)}).status == 403
    assert bot.said() == []


def test_other_pagerduty_events_are_not_posted(univac_bot, tmp_path) -> None:
    bot = pagerduty_bot(univac_bot, tmp_path)
    payload = json.loads((ALERTS / "pagerduty-triggered.json").read_text())
    acknowledged = copy.deepcopy(payload)
    acknowledged["event"]["event_type"] = "incident.acknowledged"
    body = json.dumps(acknowledged).encode()
    reply = call(bot, "/runbooks/pagerduty", body, {"X-PagerDuty-Signature": pd_signature(body)})
    assert reply.status == 202 and bot.said() == []
    payload["event"]["event_type"] = "incident.resolved"
    payload["event"]["id"] = "another-event"
    body = json.dumps(payload).encode()
    call(bot, "/runbooks/pagerduty", body, {"X-PagerDuty-Signature": pd_signature(body)})
    assert bot.said() == [("test:#ops", "[RESOLVED] PagerDuty #1042 (P2) cache in staging: "
                                        "[FIRING:1] RedisMemoryHigh redis1:9121")]


def test_through_the_http_plugin_with_a_token_a_signature_and_metrics(
        univac_bot, tmp_path) -> None:
    table = settings(tmp_path, pagerduty_secret=PD_SECRET, alert_environment="staging",
                     pagerduty_services={"Redis": "disk"})
    port = free_port()
    bot = univac_bot("http", "runbooks", roles=ROLES, state_dir=tmp_path / "state", settings={
        "runbooks": table, "http": {"port": port, "webhook_token": "alert-token-42"}})
    base = f"http://127.0.0.1:{port}/hooks/runbooks"
    body = json.dumps(notification("DiskFull")).encode()
    assert requests.post(f"{base}/alertmanager", data=body, timeout=10).status_code == 401
    sent = requests.post(f"{base}/alertmanager", data=body, timeout=10,
                         headers={"Authorization": "Bearer alert-token-42"})
    assert sent.status_code == 200
    said_until(bot, "collect-diagnostics in staging: ok")
    pd = (ALERTS / "pagerduty-triggered.json").read_bytes()
    headers = {"Authorization": "Bearer alert-token-42", "X-PagerDuty-Signature": "v1=00"}
    assert requests.post(f"{base}/pagerduty", data=pd, timeout=10,
                         headers=headers).status_code == 403
    headers["X-PagerDuty-Signature"] = pd_signature(pd)
    assert requests.post(f"{base}/pagerduty", data=pd, timeout=10,
                         headers=headers).status_code == 200
    metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert ('runbook_steps_executed_total{action="collect-diagnostics",result="ok",'
            'service="disk"} 1.0') in metrics
    assert 'runbook_step_duration_seconds_count{action="collect-diagnostics",service="disk"} ' \
           '1.0' in metrics


def test_with_incidents_an_alert_comes_once_and_its_steps_go_on_the_timeline(
        univac_bot, tmp_path) -> None:
    incidents = {"writers": "ops", "folder": str(tmp_path / "incidents"),
                 "alert_targets": ["test:#sre"]}
    bot = univac_bot("runbooks", "incidents", "approvals", roles=ROLES,
                     state_dir=tmp_path / "state",
                     settings={"runbooks": settings(tmp_path), "incidents": incidents})
    reply = call(bot, "/incidents/alertmanager", json.dumps(notification("DiskFull")).encode())
    assert reply.status == 200 and reply.payload() == b"1 alert(s): 1 opened\n"
    texts = [text for _, text in said_until(bot, "collect-diagnostics in staging: ok")]
    assert "[FIRING] DiskFull (critical) disk in staging: no space left on /var (97% used)" \
        in texts
    store = bot.bot.contexts["incidents"].shared.incidents.store
    (incident,) = store.incidents()
    wait_for(lambda: any("collect-diagnostics in staging: ok" in e.message
                         for e in store.events(incident.id, ("runbook",))), timeout=30)
    lines = [(e.actor, e.message) for e in store.events(incident.id, ("runbook",))]
    assert lines[:2] == [
        ("plugin:runbooks", "Runbook: collect-diagnostics: Collect disk diagnostics (safe for "
                            "automation): runbook run collect-diagnostics staging"),
        ("plugin:runbooks", "Running collect-diagnostics in staging on its own (safe for "
                            "automation)."),
    ]
    assert not any(e.message.startswith("[FIRING]") for e in
                   store.events(incident.id, ("runbook",)))  # the alert is its own event
    assert [e.type for e in store.events(incident.id)][:2] == ["created", "alert"]
