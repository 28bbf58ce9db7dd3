"""The triage webhook and debug endpoints through the http plugin's real server."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import requests

from tests.plugins.triage.conftest import SECRET, T0, fixture
from tests.waiting import free_port
from univac.kit import webhook as hooks

TOKEN = "debug-token-42"


class Served:
    def __init__(self, harness, clock, port: int) -> None:
        assert not harness.errors, f"the http plugin did not start: {harness.errors}"
        self.harness, self.clock = harness, clock
        self.base = f"http://127.0.0.1:{port}"

    def deliver(self, event: str, body: bytes, delivery: str = "", **headers: str
                ) -> requests.Response:
        sent = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
                "X-Hub-Signature-256": hooks.sign(SECRET, body),
                "Content-Type": "application/json"} | headers
        sent = {k: v for k, v in sent.items() if v}
        return requests.post(self.base + "/hooks/triage", data=body, headers=sent, timeout=10)

    def debug(self, path: str, method: str = "POST", body: bytes = b"",
              token: str = TOKEN) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, f"{self.base}/hooks/triage/{path}", data=body,
                                headers=headers, timeout=10)

    @property
    def rt(self):
        from univac.plugins.triage import runtime

        return runtime.of(self.harness.bot.contexts["triage"])


@pytest.fixture
def served(univac_bot, github, clock):
    def make(**settings) -> Served:
        table = {"repo": "acme/rocket", "team": "hackers", "api_url": github.base,
                 "token": "personal-token", "targets": ["test:#triage"]} | settings
        port = free_port()
        http = {"port": port, "webhook_secret": SECRET, "webhook_token": TOKEN}
        harness = univac_bot("http", "triage", clock=clock,
                             settings={"http": http, "triage": table})
        return Served(harness, clock, port)

    return make


def opened(number: int = 7) -> bytes:
    """The recorded delivery (each number makes another body: signed bodies seen before
    are answered as repeats)."""
    payload = fixture("issues_opened.json")
    payload["issue"]["number"] = number
    return json.dumps(payload).encode()


def test_a_signed_delivery_is_applied_once(served) -> None:
    server = served()
    delivery = str(uuid.uuid4())
    first = server.deliver("issues", opened(), delivery)
    assert first.status_code == 200 and first.text.startswith("applied; 1 line(s) sent")
    assert server.rt.model.numbers() == [7]
    again = server.deliver("issues", opened(), delivery)
    assert again.status_code == 200 and "already handled" in again.text
    changed = fixture("issues_opened.json")
    changed["issue"]["title"] = "Another title"
    same_id = server.deliver("issues", json.dumps(changed).encode(), delivery)
    assert same_id.status_code == 200 and "already handled" in same_id.text
    assert server.rt.counts.get("triage_deliveries", outcome="applied") == 1
    assert server.harness.said() == [(
        "test:#triage", "[acme/rocket] reporter opened issue #7: Fuel gauge reads in furlongs "
                        "https://github.com/acme/rocket/issues/7")]


def test_bad_signatures_and_missing_metadata_are_refused(served) -> None:
    server = served()
    body = opened(1)
    forged = server.deliver("issues", body, **{"X-Hub-Signature-256": hooks.sign("guess", body)})
    assert forged.status_code == 403
    bearer = server.deliver("issues", body, **{"X-Hub-Signature-256": "",
                                               "Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 401 and "unsigned" in bearer.text
    no_event = server.deliver("", opened(2))
    assert no_event.status_code == 400 and "X-GitHub-Event" in no_event.text
    body = opened(3)
    no_id = requests.post(server.base + "/hooks/triage", data=body, timeout=10, headers={
        "X-GitHub-Event": "issues", "X-Hub-Signature-256": hooks.sign(SECRET, body)})
    assert no_id.status_code == 400 and "X-GitHub-Delivery" in no_id.text
    assert server.rt.model.numbers() == []
    assert server.harness.said() == []


def test_debug_endpoints_need_the_bearer_token(served, github) -> None:
    github.add(3, labels=["team-engine", "P1", "P2"], assignees=["alice"])
    server = served()
    server.deliver("issues", opened())
    assert server.debug("debug", "GET", token="").status_code == 401
    assert server.debug("debug", "GET", token="wrong").status_code == 403
    signed = requests.get(server.base + "/hooks/triage/debug", timeout=10, headers={
        "X-Hub-Signature-256": hooks.sign(SECRET, b"")})
    assert signed.status_code == 401  # a signature is for deliveries, not for the debug page
    page = server.debug("debug", "GET")
    assert page.status_code == 200
    assert "triage of acme/rocket" in page.text and "pending cleanups (1): #7 at" in page.text
    assert "\n#7: labels []; opened 2026-02-20 09:30 UTC" in page.text
    assert server.debug("debug", "POST").status_code == 405

    update = server.debug("force-update", body=b"3")
    assert update.status_code == 200 and update.text == "#3: updated\n"
    assert server.rt.model.get(3).labels == ["team-engine", "P1", "P2"]
    assert server.debug("force-update", body=b"three").status_code == 400
    cleanup = server.debug("force-cleanup")
    assert cleanup.text == "cleaned up 1 issue(s), 0 changed\n"  # #7, not yet due: forced
    assert server.debug("force-tidy").text.endswith("issue(s) changed by the tidy rules, "
                                                    "2 tracked\n")
    assert "\n#3: labels [team-engine, P1, P2]" in server.debug("debug", "GET").text


def test_force_update_takes_the_number_in_the_query_string(served, github) -> None:
    github.add(3, labels=["P1"])
    github.add(4, labels=["P2"])
    server = served()
    assert server.debug("force-update?3").text == "#3: updated\n"  # the original's form
    assert server.debug("force-update?number=4").text == "#4: updated\n"
    assert server.rt.model.numbers() == [3, 4]
    for wrong in ("force-update?three", "force-update?number=4&number=3", "force-update?n=4"):
        refused = server.debug(wrong, body=b"4")  # a query string, when sent, is the one read
        assert refused.status_code == 400 and "force-update?12345" in refused.text, wrong


def test_force_cleanup_runs_the_rules(served, github) -> None:
    github.add(3, labels=["P1", "P2"])
    server = served()
    server.debug("force-update", body=b"3")
    queued = server.rt.model.get(3)
    queued.cleanup_at = int((T0 + timedelta(hours=1)).timestamp())  # not due yet: forced
    server.rt.model.put(3, queued)
    assert server.debug("force-cleanup").text == "cleaned up 1 issue(s), 1 changed\n"
    assert github.issues[3].labels == ["P1"]


def test_github_unreachable_shows_on_healthz(served) -> None:
    server = served(api_url=f"http://127.0.0.1:{free_port()}")
    poller = next(p for p in server.harness.bot.pollers if p.name == "triage.background_update")
    for _ in range(3):
        assert poller.run_once(T0).kind == "failed"
    health = requests.get(server.base + "/healthz", timeout=10)
    assert health.status_code == 503
    assert "poller triage.background_update failed 3 times in a row" in health.json()["problems"]
    update = server.debug("force-update", body=b"3")
    assert update.status_code == 503 and update.text == "GitHub call failed: GitHubError\n"


def test_healthz_carries_the_plugin_s_line(served, github) -> None:
    github.add(3)
    server = served()
    before = requests.get(server.base + "/healthz", timeout=10).json()["plugins"]["triage"]
    assert before == ("0 open issue(s) tracked, 0 cleanup(s) pending; no scan yet; "
                      "GitHub rate limit not known yet")
    poller = next(p for p in server.harness.bot.pollers if p.name == "triage.background_update")
    assert poller.run_once(T0).kind == "polled"  # the team, the highest number, #3
    after = requests.get(server.base + "/healthz", timeout=10).json()["plugins"]["triage"]
    assert after == ("1 open issue(s) tracked, 0 cleanup(s) pending; last scan "
                     "2026-03-02 12:00 UTC, next #2; GitHub rate limit 4996/5000 left")
