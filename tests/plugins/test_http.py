"""The http plugin, driven with a real HTTP client against its server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from univac import TransportStatus
from univac.plugins import _webhook
from univac.plugins import http as http_plugin

FIXTURES = Path(__file__).parent / "fixtures" / "hooks"
SECRET = "It's a Secret to Everybody"
TOKEN = "alert-token-42"
FLAKY = '''
"""A poller that fails on demand."""
from univac import every

FAIL = []


@every(60)
def flaky(ctx):
    if FAIL:
        raise ConnectionError("down")
'''


class Served:
    """A harness with the http plugin listening on a free port."""

    def __init__(self, bot) -> None:
        self.bot = bot
        port = http_plugin.bound_port()
        assert port, f"the http plugin did not start: {bot.errors}"
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str) -> requests.Response:
        return requests.get(self.base + path, timeout=5)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> requests.Response:
        return requests.post(self.base + path, data=body, headers=headers, timeout=5)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        response = self.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }


@pytest.fixture
def serve(univac_bot):
    def make(*plugins: str, http: dict | None = None, **options) -> Served:
        table = {"port": 0, "webhook_secret": SECRET, "webhook_token": TOKEN, "timeout_s": 5}
        settings = {"http": table | (http or {})} | options.pop("settings", {})
        return Served(univac_bot("http", *plugins, settings=settings, **options))

    return make


def hooks_settings() -> dict[str, dict]:
    return {"hooks": {"targets": ["test:#dev"], "alert_targets": ["test:#ops"]}}


def github(event: str, body: bytes, delivery: str = "", secret: str = SECRET) -> dict[str, str]:
    return {
        "X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": _webhook.sign(secret, body), "Content-Type": "application/json",
    }


def test_health_is_200_when_connected_and_503_when_a_transport_is_down(serve) -> None:
    served = serve("echo")
    first = served.get("/healthz")
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/json"
    report = first.json()
    assert report["healthy"] is True and report["problems"] == []
    assert report["transports"]["test"] == {
        "state": "connected", "targets": ["#test"], "last_inbound": None, "reconnects": 0,
        "last_pong": None, "detail": "fake transport",
    }
    assert report["reactive"] == {"threads": 0, "running": 0, "queued": 0}

    fake = served.bot.fakes["test"]
    fake.status = lambda: TransportStatus("disconnected", "univac", (), "ConnectionReset", 1.5, 2,
                                          dropped={"bytes": 7})  # fmt: skip
    down = served.get("/healthz")
    assert down.status_code == 503
    assert down.json()["problems"] == ["transport test is disconnected"]
    assert down.json()["transports"]["test"]["last_inbound"] == 1.5
    assert served.metrics()[("univac_healthy", ())] == 0.0
    assert served.metrics()[("univac_transport_reconnects_total", (("transport", "test"),))] == 2
    dropped = ("univac_transport_dropped_lines_total", (("reason", "bytes"), ("transport", "test")))
    assert served.metrics()[dropped] == 7

    del fake.status
    assert served.get("/healthz").status_code == 200


def test_health_is_503_after_a_poller_fails_three_times_in_a_row(serve, tmp_path) -> None:
    path = tmp_path / "flaky.py"
    path.write_text(FLAKY, encoding="utf-8")
    served = serve(str(path))
    module = served.bot.bot.catalog.plugins["flaky"].module
    served.bot.tick("flaky")
    module.FAIL.append(True)
    for count in (1, 2):
        with pytest.raises(AssertionError):
            served.bot.tick("flaky")
        assert served.get("/healthz").status_code == 200, f"unhealthy after {count} failure(s)"
    with pytest.raises(AssertionError):
        served.bot.tick("flaky")
    response = served.get("/healthz")
    assert response.status_code == 503
    poller = response.json()["pollers"]["flaky.flaky"]
    assert poller["failures"] == 3 and poller["runs"] == 4
    assert poller["failures_total"] == 3 and poller["last_failure"] is not None
    assert poller["last_error"] == "ConnectionError" and poller["last_ok"] is not None
    assert response.json()["problems"] == ["poller flaky.flaky failed 3 times in a row"]
    metrics = served.metrics()
    assert metrics[("univac_poller_runs_total", (("poller", "flaky.flaky"),))] == 4
    assert metrics[("univac_poller_failures_total", (("poller", "flaky.flaky"),))] == 3
    assert metrics[("univac_poller_consecutive_failures", (("poller", "flaky.flaky"),))] == 3


def test_health_is_503_while_the_bot_cannot_report_yet() -> None:
    def not_ready():
        raise AttributeError("'Bot' object has no attribute 'pollers'")

    ctx = SimpleNamespace(bot=SimpleNamespace(status=not_ready))
    response = http_plugin.health(ctx, 3)  # type: ignore[arg-type]
    assert response.status == 503
    assert json.loads(response.payload()) == {"healthy": False, "problems": ["starting"]}


def test_metrics_counters_move_after_commands(serve) -> None:
    served = serve("echo")
    before = served.metrics()
    received = ("univac_messages_received_total", (("transport", "test"),))
    sent = ("univac_messages_sent_total", (("transport", "test"),))
    done = ("univac_commands_total",
            (("command", "echo"), ("plugin", "echo"), ("result", "done")))
    assert before[received] == 0 and before[sent] == 0 and done not in before
    assert served.bot.ask("!echo one") == ["one"]
    assert served.bot.ask("!echo two") == ["two"]
    after = served.metrics()
    assert after[received] == 2 and after[sent] == 2 and after[done] == 2
    count = ("univac_handler_duration_seconds_count", (("kind", "command"), ("plugin", "echo")))
    inf = ("univac_handler_duration_seconds_bucket",
           (("kind", "command"), ("le", "+Inf"), ("plugin", "echo")))
    assert after[count] == 2 and after[inf] == 2
    for name in ("univac_reactive_threads", "univac_reactive_busy", "univac_reactive_queue_depth",
                 "univac_shed_messages_total", "univac_rate_limited_total", "univac_healthy"):
        assert (name, ()) in after, name
    assert after[("univac_transport_connected", (("transport", "test"),))] == 1


def test_unknown_paths_and_wrong_methods_are_refused(serve) -> None:
    served = serve("hooks", settings=hooks_settings())
    assert served.get("/nothing").status_code == 404
    assert served.get("/hooks/nothing").status_code == 404
    assert served.post("/healthz", b"", {}).status_code == 405
    assert served.get("/hooks/github").status_code == 405
    assert served.bot.said() == []


def test_disabled_endpoints_are_not_served(serve) -> None:
    served = serve("echo", http={"endpoints": ["healthz"]})
    assert served.get("/healthz").status_code == 200
    assert served.get("/metrics").status_code == 404


def test_a_bad_signature_is_refused_and_nothing_is_posted(serve) -> None:
    served = serve("hooks", settings=hooks_settings())
    body = (FIXTURES / "push.json").read_bytes()
    forged = served.post("/hooks/github", body, github("push", body, secret="guess"))
    assert forged.status_code == 403
    assert "X-Hub-Signature-256 does not match" in forged.text
    tampered = github("push", body)
    changed = served.post("/hooks/github", body.replace(b"main", b"prod"), tampered)
    assert changed.status_code == 403
    unsigned = served.post("/hooks/github", body, {"X-GitHub-Event": "push"})
    assert unsigned.status_code == 401
    wrong_token = served.post("/hooks/alertmanager", b"{}", {"Authorization": "Bearer nope"})
    assert wrong_token.status_code == 403
    assert served.bot.said() == []
    counted = {
        labels: value for (name, labels), value in served.metrics().items()
        if name == "univac_webhook_requests_total"
    }
    assert counted == {
        (("path", "/github"), ("status", "403")): 2, (("path", "/github"), ("status", "401")): 1,
        (("path", "/alertmanager"), ("status", "403")): 1,
    }


def test_a_good_delivery_posts_exactly_once_even_when_delivered_twice(serve) -> None:
    served = serve("hooks", settings=hooks_settings())
    body = (FIXTURES / "push.json").read_bytes()
    headers = github("push", body, delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958")
    first = served.post("/hooks/github", body, headers)
    assert first.status_code == 200, first.text
    again = served.post("/hooks/github", body, headers)
    assert again.status_code == 200
    assert "already handled" in again.text
    said = served.bot.said()
    assert len(said) == 1 and said[0][0] == "test:#dev"
    assert said[0][1].startswith("[acme/rocket] margaret pushed 2 commit(s) to main")


def test_concurrent_repeats_of_one_delivery_post_once(serve) -> None:
    served = serve("hooks", settings=hooks_settings(), http={"threads": 4})
    body = (FIXTURES / "issues.json").read_bytes()
    headers = github("issues", body, delivery="same-id")
    codes: list[int] = []
    start = threading.Barrier(4)

    def deliver() -> None:
        start.wait(5)
        codes.append(served.post("/hooks/github", body, headers).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(codes) == [200, 200, 200, 200]
    assert len(served.bot.said()) == 1


def test_deliveries_are_remembered_across_a_restart(serve, tmp_path) -> None:
    body = (FIXTURES / "push.json").read_bytes()
    headers = github("push", body, delivery="persisted-id")
    state = tmp_path / "state"
    first = serve("hooks", settings=hooks_settings(), state_dir=state)
    assert first.post("/hooks/github", body, headers).status_code == 200
    assert len(first.bot.said()) == 1
    first.bot.close()
    assert json.loads((state / "http.json").read_text())["deliveries"] == ["persisted-id"]
    second = serve("hooks", settings=hooks_settings(), state_dir=state)
    assert "already handled" in second.post("/hooks/github", body, headers).text
    assert second.bot.said() == []


def test_oversize_and_malformed_bodies_are_refused(serve) -> None:
    served = serve("hooks", settings=hooks_settings(), http={"max_body_bytes": 2048})
    big = b'{"pad": "' + b"x" * 4096 + b'"}'
    oversize = served.post("/hooks/github", big, github("push", big))
    assert oversize.status_code == 413
    chunks = iter([big[:2000], big[2000:]])  # no Content-Length: sent chunked
    streamed = requests.post(served.base + "/hooks/github", data=chunks,
                             headers=github("push", big), timeout=5)
    assert streamed.status_code == 413
    garbage = b"{not json"
    bad = served.post("/hooks/github", garbage, github("push", garbage))
    assert bad.status_code == 400 and "not valid JSON" in bad.text
    assert served.bot.said() == []


def test_idle_and_half_sent_requests_are_cut_off_after_the_timeout(serve) -> None:
    served = serve("echo", http={"timeout_s": 1})
    port = int(served.base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=6) as idle, \
            socket.create_connection(("127.0.0.1", port), timeout=6) as half:
        half.sendall(b"POST /hooks/github HTTP/1.1\r\nHost: bot\r\nContent-Length: 10\r\n")
        assert idle.recv(1024) == b""  # closed by the server, well before our 6 s deadline
        assert half.recv(1024) == b""


def test_a_failed_handler_answers_500_and_a_redelivery_is_handled_again(serve) -> None:
    settings = {"hooks": {"targets": ["nowhere:#dev"]}}
    served = serve("hooks", settings=settings)
    body = (FIXTURES / "push.json").read_bytes()
    headers = github("push", body, delivery="retry-me")
    failed = served.post("/hooks/github", body, headers)
    assert failed.status_code == 500 and "nowhere" not in failed.text
    assert served.post("/hooks/github", body, headers).status_code == 500  # not "already handled"


def test_alertmanager_with_a_bearer_token_posts_alerts(serve) -> None:
    served = serve("hooks", settings=hooks_settings())
    body = (FIXTURES / "alertmanager.json").read_bytes()
    response = served.post("/hooks/alertmanager", body, {"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert [target for target, _ in served.bot.said()] == ["test:#ops", "test:#ops"]


def test_a_taken_port_disables_the_plugin_with_a_clear_error(univac_bot) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bot = univac_bot("http", "echo", settings={"http": {"port": port}})
        assert f"cannot listen on 127.0.0.1:{port}" in bot.errors["plugins.http"]
        assert bot.ask("!echo still here") == ["still here"]


@pytest.mark.parametrize(("table", "reason"), [
    ({"endpoints": ["health"]}, "endpoints: unknown ['health']"),
    ({"webhook_prefix": "hooks/"}, "webhook_prefix must start with /"),
    ({"port": 70000}, "need port 0..65535"),
    ({"threads": 0}, "must be >= 1"),
])
def test_bad_settings_disable_the_plugin_and_say_why(univac_bot, table, reason) -> None:
    bot = univac_bot("http", "echo", settings={"http": table})
    assert reason in bot.errors["plugins.http"]
    assert http_plugin.bound_port() is None


def test_teardown_stops_the_server(serve) -> None:
    served = serve("echo")
    assert served.get("/healthz").status_code == 200
    served.bot.close()
    assert http_plugin.bound_port() is None
    with pytest.raises(requests.ConnectionError):
        served.get("/healthz")
