"""The kit's alerts: Alertmanager and PagerDuty v3 payloads (recorded in the shape their
documentation gives) read into one Alert type; PagerDuty's signature."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from univac import UserError
from univac.kit.alerts import (
    Alert,
    alertmanager,
    pagerduty,
    pagerduty_sign,
    pagerduty_verify,
)

FIXTURES = Path(__file__).parent / "fixtures" / "alerts"


def payload(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_every_alert_of_a_notification_is_read_in_order() -> None:
    alerts = alertmanager(payload("alertmanager-firing.json"), environment="staging")
    assert [(a.name, a.service, a.environment, a.severity, a.status) for a in alerts] == [
        ("HighErrorRate", "api", "prod", "critical", "firing"),
        ("HighErrorRate", "api", "prod", "critical", "firing"),
        ("DatabaseLatencyHigh", "postgres", "prod", "warning", "firing"),
    ]
    first = alerts[0]
    assert first.source == "alertmanager" and first.firing
    assert first.key == "5b7c4f1e0a9d3e21"
    assert first.occurrence == "5b7c4f1e0a9d3e21@2026-03-02T08:58:30.104Z:firing"
    assert first.starts_at == "2026-03-02T08:58:30.104Z"
    assert first.url.startswith("http://prometheus.example.org:9090/graph")
    assert first.labels["instance"] == "api1:8080"
    assert first.annotations["description"] == "api1 answers 7.2% of requests with 5xx"
    assert first.line() == "[FIRING] HighErrorRate (critical) api in prod: 5xx above 5% on the api"


def test_the_same_alert_resolved_is_another_occurrence_of_the_same_key() -> None:
    firing = alertmanager(payload("alertmanager-firing.json"))[0]
    resolved = alertmanager(payload("alertmanager-resolved.json"))[0]
    assert resolved.status == "resolved" and not resolved.firing
    assert resolved.key == firing.key and resolved.occurrence != firing.occurrence


def test_labels_choose_the_service_and_environment_with_a_default() -> None:
    item = {"labels": {"alertname": "X", "job": "node", "stage": "qa"},
            "annotations": {"description": "only a description"}}
    (alert,) = alertmanager({"alerts": [item]}, ("service", "job"), ("env",), "prod")
    assert (alert.service, alert.environment, alert.summary) == ("node", "prod",
                                                                 "only a description")
    (staged,) = alertmanager({"alerts": [item]}, ("service",), ("stage",))
    assert (staged.service, staged.environment) == ("", "qa")
    assert len(alert.key) == 16 and alert.occurrence == f"{alert.key}@:firing"


@pytest.mark.parametrize("body", [[], {"alerts": 3}, {"alerts": [1]}, {"receiver": "x"}, "x"])
def test_what_is_no_notification_is_a_user_error(body: object) -> None:
    with pytest.raises(UserError, match="list of alerts"):
        alertmanager(body)


def test_pagerduty_events_become_alerts_with_labels_from_the_incident() -> None:
    event = pagerduty(payload("pagerduty-triggered.json"))
    assert (event.id, event.type) == ("01DVX2Z8Q4J3BX7H0A1N5K9TRG", "incident.triggered")
    alert = event.alert({"Checkout API": "checkout"}, "prod")
    assert alert == Alert(
        "pagerduty", "firing", "PagerDuty #2071", "P1", "checkout", "prod",
        "Checkout payments failing", "Q1VR4XGMTK2C8B", "01DVX2Z8Q4J3BX7H0A1N5K9TRG",
        "2026-03-02T09:01:11Z", "https://acme.pagerduty.com/incidents/Q1VR4XGMTK2C8B",
        {"alertname": "Checkout payments failing", "service": "checkout", "env": "prod",
         "severity": "P1", "urgency": "high", "incident_key": "7f4e1a0c9b2d4e6f8a1b3c5d7e9f0a2b"})
    acknowledged = pagerduty(payload("pagerduty-acknowledged.json")).alert()
    assert acknowledged is not None and acknowledged.status == "acknowledged"
    assert acknowledged.service == "Checkout API" and acknowledged.key == alert.key
    assert acknowledged.line().startswith("[ACKNOWLEDGED] PagerDuty #2071 (P1) Checkout API:")


def test_other_pagerduty_event_types_are_no_alert() -> None:
    body = payload("pagerduty-triggered.json")
    body["event"]["event_type"] = "incident.annotated"
    assert pagerduty(body).alert() is None
    with pytest.raises(UserError, match="PagerDuty v3"):
        pagerduty({"event": {"event_type": "incident.triggered"}})


def test_pagerduty_signatures_one_of_several_is_enough() -> None:
    body = (FIXTURES / "pagerduty-triggered.json").read_bytes()
    good = pagerduty_sign("s3cret", body)
    assert good.startswith("v1=") and len(good) == 67
    assert pagerduty_verify("s3cret", body, good)
    assert pagerduty_verify("s3cret", body, f"v1={'0' * 64}, {good}")
    assert not pagerduty_verify("other", body, good)
    assert not pagerduty_verify("s3cret", body + b" ", good)
    assert not pagerduty_verify("", body, pagerduty_sign("", body))
    assert not pagerduty_verify("s3cret", body, "")
