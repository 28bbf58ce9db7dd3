"""The http plugin, driven with a real HTTP client against its server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import socket
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.waiting import wait_for
from univac import TransportStatus
from univac.kit import webhook as hooks
from univac.ops.reports import LeaseReport
from univac.plugins import http as http_plugin

FIXTURES = Path(__file__).parent / "fixtures" / "hooks"
HTTP_LOG = "univac.plugin.http"
SECRET = "It's a Secret to Everybody"
TOKEN = "alert-token-42"
FLAKY = '''
"""A poller that fails on demand, or skips."""
from univac import Skip, every

FAIL = []
SKIP = []


@every(60)
def flaky(ctx):
    if SKIP:
        return Skip("nothing to do")
    if FAIL:
        raise ConnectionError("down")
'''


SERVING = re.compile(r"^serving .* on http://127\.0\.0\.1:(\d+)$")


def served_port(caplog: pytest.LogCaptureFixture) -> int | None:
    """The port of the last server started, from its log line (as an operator reads it)."""
    found = [SERVING.match(r.getMessage()) for r in caplog.records if r.name == HTTP_LOG]
    ports = [int(match[1]) for match in found if match]
    return ports[-1] if ports else None


class Served:
    """A harness with the http plugin listening on a free port."""

    def __init__(self, bot, port: int | None) -> None:
        self.bot = bot
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
def serve(univac_bot, caplog):
    def make(*plugins: str, http: dict | None = None, **options) -> Served:
        table = {"port": 0, "webhook_secret": SECRET, "webhook_token": TOKEN, "idle_timeout_s": 5}
        settings = {"http": table | (http or {})} | options.pop("settings", {})
        with caplog.at_level(logging.INFO, logger=HTTP_LOG):
            bot = univac_bot("http", *plugins, settings=settings, **options)
        return Served(bot, served_port(caplog))

    return make


def hooks_settings() -> dict[str, dict]:
    return {"hooks": {"targets": ["test:#dev"], "alert_targets": ["test:#ops"]}}


def github(event: str, body: bytes, delivery: str = "", secret: str = SECRET) -> dict[str, str]:
    return {
        "X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": hooks.sign(secret, body), "Content-Type": "application/json",
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
    module.SKIP.append(True)
    served.bot.tick("flaky")
    module.SKIP.clear()
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
    assert poller["skipped"] == 1 and poller["deferred"] == 0  # a skip is not a run
    assert poller["schedule"] == "every 60 s" and poller["next_run"] > poller["last_failure"]
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


def test_a_standby_refuses_webhooks_with_503_and_forgets_the_delivery(serve) -> None:
    served = serve("hooks", settings=hooks_settings())
    body = (FIXTURES / "push.json").read_bytes()
    headers = github("push", body, delivery="during-a-failover")
    leading = [False]
    served.bot.bot.ha.active = lambda: leading[0]
    refused = served.post("/hooks/github", body, headers)
    assert refused.status_code == 503 and refused.text.startswith("standby:")
    assert served.bot.said() == []
    leading[0] = True
    assert served.post("/hooks/github", body, headers).status_code == 200
    assert len(served.bot.said()) == 1


def test_health_of_a_standby_is_503_and_names_its_role(serve) -> None:
    served = serve("echo")
    assert served.get("/healthz").json()["role"] == "" and "univac_lease_leader" not in str(
        served.metrics())
    lease = LeaseReport("standby", None, 1700000000.0, "another instance leads")
    served.bot.bot.ha.report = lambda: lease
    response = served.get("/healthz")
    assert response.status_code == 503
    report = response.json()
    assert report["role"] == "standby" and report["healthy"] is False
    assert report["problems"] == ["standby: another instance leads"]
    assert report["lease"] == {"role": "standby", "epoch": None, "since": 1700000000.0,
                               "detail": "another instance leads"}
    assert served.metrics()[("univac_lease_leader", ())] == 0.0
    served.bot.bot.ha.report = lambda: LeaseReport("leader", 4, 1700000000.0, "epoch 4")
    assert served.get("/healthz").status_code == 200
    metrics = served.metrics()
    assert metrics[("univac_lease_leader", ())] == 1.0
    assert metrics[("univac_lease_epoch", ())] == 4.0


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


def test_a_signed_body_replayed_without_or_with_another_delivery_id_is_not_applied(serve):
    served = serve("hooks", settings=hooks_settings())
    body = (FIXTURES / "push.json").read_bytes()
    headers = github("push", body, delivery="first-id")
    assert "posted" in served.post("/hooks/github", body, headers).text
    no_id = {k: v for k, v in headers.items() if k != "X-GitHub-Delivery"}
    other_id = headers | {"X-GitHub-Delivery": "second-id"}
    for replayed in (no_id, other_id, no_id):
        again = served.post("/hooks/github", body, replayed)
        assert again.status_code == 200 and "already handled" in again.text
    assert len(served.bot.said()) == 1


def test_bearer_requests_with_the_same_body_are_each_handled(serve) -> None:
    """Alertmanager repeats a notification with an identical body; each is posted."""
    served = serve("hooks", settings=hooks_settings())
    body = (FIXTURES / "alertmanager.json").read_bytes()
    for _ in range(2):
        reply = served.post("/hooks/alertmanager", body, {"Authorization": f"Bearer {TOKEN}"})
        assert reply.status_code == 200, reply.text
    assert len(served.bot.said()) == 4


def stored_keys(state_dir) -> set[str]:
    """The http plugin's keys, read from the state store's file."""
    with sqlite3.connect(state_dir / "state.sqlite3") as db:
        rows = db.execute("SELECT key FROM univac_state WHERE namespace = 'http'").fetchall()
    return {key for (key,) in rows}


def handled(state_dir) -> set[str]:
    """The http plugin's remembered deliveries."""
    return {key for key in stored_keys(state_dir) if key.startswith("handled:")}


def test_deliveries_are_remembered_across_a_restart_one_key_each(serve, tmp_path) -> None:
    body = (FIXTURES / "push.json").read_bytes()
    headers = github("push", body, delivery="persisted-id")
    state = tmp_path / "state"
    first = serve("hooks", settings=hooks_settings(), state_dir=state)
    assert first.post("/hooks/github", body, headers).status_code == 200
    assert len(first.bot.said()) == 1
    first.bot.close()
    digest = hashlib.sha256(body).hexdigest()
    assert handled(state) == {"handled:id:persisted-id", f"handled:sha256:{digest}"}
    second = serve("hooks", settings=hooks_settings(), state_dir=state)
    assert "already handled" in second.post("/hooks/github", body, headers).text
    assert second.bot.said() == []


def test_ids_kept_as_one_list_by_an_older_version_are_taken_over(serve, tmp_path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "http.json").write_text(json.dumps({"deliveries": ["old-1", "old-2"]}))
    served = serve("hooks", settings=hooks_settings(), state_dir=state)
    body = (FIXTURES / "push.json").read_bytes()
    assert "already handled" in served.post(
        "/hooks/github", body, github("push", body, delivery="old-2")).text
    stored = stored_keys(state)
    assert "deliveries" not in stored
    assert {"handled:id:old-1", "handled:id:old-2"} <= stored


def test_remembered_deliveries_are_bounded_and_the_oldest_forgotten(serve, tmp_path) -> None:
    state = tmp_path / "state"
    served = serve("hooks", settings=hooks_settings(), state_dir=state,
                   http={"remember_deliveries": 2})
    body = (FIXTURES / "push.json").read_bytes()
    bodies = [body.replace(b"main", name.encode()) for name in ("one", "two", "three")]
    for number, each in enumerate(bodies):
        served.post("/hooks/github", each, github("push", each, delivery=f"id-{number}"))
    assert len(handled(state)) == 4  # two deliveries, by id and by digest
    oldest = served.post("/hooks/github", bodies[0], github("push", bodies[0], delivery="id-0"))
    assert "posted" in oldest.text  # forgotten, so handled again
    newest = served.post("/hooks/github", bodies[2], github("push", bodies[2]))
    assert "already handled" in newest.text
    assert len(served.bot.said()) == 4


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
    served = serve("echo", http={"idle_timeout_s": 1})
    port = int(served.base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=6) as idle, \
            socket.create_connection(("127.0.0.1", port), timeout=6) as half:
        half.sendall(b"POST /hooks/github HTTP/1.1\r\nHost: bot\r\nContent-Length: 10\r\n")
        assert idle.recv(1024) == b""  # closed by the server, well before our 6 s deadline
        assert half.recv(1024) == b""


def test_health_answers_while_slow_clients_trickle_their_requests(serve) -> None:
    """12 clients send a header line every half second, more than the 10 connections
    allowed: each is cut off once its request takes over request_timeout_s, however
    steadily it trickles, so /healthz gets a connection and an answer."""
    served = serve("echo", http={"max_connections": 10, "request_timeout_s": 2,
                                 "idle_timeout_s": 60})
    port = int(served.base.rsplit(":", 1)[1])
    stop, started, cut = threading.Event(), threading.Semaphore(0), []

    def trickle() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n")
            started.release()
            until = time.monotonic() + 90
            while not stop.wait(0.5) and time.monotonic() < until:
                try:
                    sock.sendall(b"X-Slow: still sending\r\n")
                except OSError:
                    cut.append(True)
                    return

    clients = [threading.Thread(target=trickle, daemon=True) for _ in range(12)]
    try:
        for client in clients:
            client.start()
        for _ in clients:
            assert started.acquire(timeout=10)
        response = requests.get(served.base + "/healthz", timeout=45)
        assert response.status_code == 200
        wait_for(lambda: len(cut) >= 10, timeout=30, what="the server to cut the slow clients")
    finally:
        stop.set()
        for client in clients:
            client.join(5)


def test_a_request_that_takes_too_long_is_cut_even_when_never_idle(serve) -> None:
    served = serve("echo", http={"request_timeout_s": 1, "idle_timeout_s": 60})
    port = int(served.base.rsplit(":", 1)[1])
    pacing = threading.Event()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\n")
        until = time.monotonic() + 30
        while time.monotonic() < until:  # a header line every 0.2 s: never idle
            try:
                slow.sendall(b"X-Slow: 1\r\n")
            except OSError:
                break
            pacing.wait(0.2)
        assert time.monotonic() < until, "the slow request was never cut off"


def test_a_failed_handler_answers_500_and_a_redelivery_is_handled_again(serve) -> None:
    served = serve("hooks", settings=hooks_settings())

    def broken(target: str, text: str) -> None:
        raise RuntimeError("the link to nowhere is down")

    served.bot.fakes["test"].send = broken
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
def test_bad_settings_disable_the_plugin_and_say_why(univac_bot, table, reason, caplog) -> None:
    with caplog.at_level(logging.INFO, logger=HTTP_LOG):
        bot = univac_bot("http", "echo", settings={"http": table})
    assert reason in bot.errors["plugins.http"]
    assert served_port(caplog) is None


def test_the_teardown_setup_returned_stops_the_server(serve) -> None:
    served = serve("echo")
    assert served.get("/healthz").status_code == 200
    served.bot.close()
    with pytest.raises(requests.ConnectionError):
        served.get("/healthz")


def test_two_bots_in_one_process_serve_on_two_ports(serve) -> None:
    first, second = serve("echo"), serve("echo")
    assert first.base != second.base
    assert first.get("/healthz").status_code == second.get("/healthz").status_code == 200
    first.bot.close()
    assert second.get("/healthz").status_code == 200
    assert not hasattr(http_plugin, "teardown")  # no module-level state to tear down


def test_plugin_metrics_are_served_under_their_own_names(serve) -> None:
    from tests.core.sample_plugins import counting

    served = serve(str(Path(counting.__file__)))
    assert served.bot.ask("!step restart ok") == ["counted"]
    metrics = served.metrics()
    labels = (("action", "restart"), ("result", "ok"), ("service", "web"))
    assert metrics[("runbook_steps_executed_total", labels)] == 1
    assert metrics[("quota_left", ())] == 42
    assert metrics[("runbook_step_duration_seconds_count", (("action", "restart"),))] == 1


def test_a_webhook_sees_the_query_string(serve, tmp_path) -> None:
    plugin = tmp_path / "asks.py"
    plugin.write_text('from univac import webhook\n\n\n@webhook("/asks", methods=("POST",))\n'
                      'def asks(ctx, request):\n    return f"query {request.query}"\n',
                      encoding="utf-8")
    served = serve(str(plugin), http={"allow_unsigned": True})
    answer = served.post("/hooks/asks?n=123&x=y", b"", {})
    assert answer.status_code == 200 and answer.text == "query n=123&x=y"


ROUTED = '''
"""Webhooks at an exact path and below a path, one that checks its callers itself."""
from univac import WebhookResponse, webhook


@webhook("/pages", methods=("GET",))
def index(ctx, request):
    return f"index {request.path}"


@webhook("/pages/*", methods=("GET",))
def below(ctx, request):
    return f"below {request.path}"


@webhook("/pages/weekly/*", methods=("GET",))
def weekly(ctx, request):
    return f"weekly {request.path}"


@webhook("/own/*", methods=("GET",), own_auth=True)
def own(ctx, request):
    if request.header("X-Pass") != "yes":
        return WebhookResponse(401, "no", headers={"WWW-Authenticate": 'Bearer realm="own"'})
    return WebhookResponse(200, "<p>in</p>", "text/html; charset=utf-8",
                           {"Content-Security-Policy": "default-src 'none'",
                            "Content-Type": "text/evil", "Cache-Control": "public"})
'''


def test_a_path_ending_in_a_star_answers_the_paths_below_it_the_longest_first(
        serve, tmp_path) -> None:
    plugin = tmp_path / "routed.py"
    plugin.write_text(ROUTED, encoding="utf-8")
    served = serve(str(plugin))
    bearer = {"Authorization": f"Bearer {TOKEN}"}

    def get(path: str) -> tuple[int, str]:
        answer = requests.get(served.base + path, headers=bearer, timeout=5)
        return answer.status_code, answer.text

    assert get("/hooks/pages") == (200, "index /pages")
    assert get("/hooks/pages/inc_1") == (200, "below /pages/inc_1")
    assert get("/hooks/pages/a/b?x=1") == (200, "below /pages/a/b")
    assert get("/hooks/pages/weekly/2026-10") == (200, "weekly /pages/weekly/2026-10")
    assert get("/hooks/pages/weekly") == (200, "below /pages/weekly")
    assert get("/hooks/pages/")[0] == 404  # nothing below: neither route
    assert get("/hooks/pagesx/1")[0] == 404
    assert get("/hooks/pages/*") == (200, "below /pages/*")  # an id like any other
    metrics = served.metrics()
    assert metrics[("univac_webhook_requests_total",
                    (("path", "/pages/*"), ("status", "200")))] == 4  # by route, not by path


def test_a_webhook_with_its_own_auth_is_called_without_the_servers_token(
        serve, tmp_path) -> None:
    plugin = tmp_path / "routed.py"
    plugin.write_text(ROUTED, encoding="utf-8")
    served = serve(str(plugin))
    assert served.get("/hooks/pages/1").status_code == 401  # the server's check
    refused = served.get("/hooks/own/1")
    assert (refused.status_code, refused.text) == (401, "no")  # the handler's own
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="own"'
    wrong_token = requests.get(served.base + "/hooks/own/1", timeout=5,
                               headers={"Authorization": "Bearer wrong", "X-Pass": "yes"})
    assert wrong_token.status_code == 200  # the server's token is not asked for
    assert wrong_token.headers["Content-Security-Policy"] == "default-src 'none'"
    assert wrong_token.headers["Content-Type"] == "text/html; charset=utf-8"
    assert wrong_token.headers["Cache-Control"] == "no-store"  # the server's, kept


def test_webhook_paths_are_checked_when_decorated() -> None:
    from univac import webhook

    for bad in ("/a/*/b", "/*", "/a*", "a/*", "/a/**"):
        with pytest.raises(ValueError, match="must look like /name or /name/\\*"):
            webhook(bad)
