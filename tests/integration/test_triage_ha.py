"""The triage model across a handover: two bots with ``[ha]`` sharing one real
PostgreSQL, in one process, each with the triage plugin.

Both bots are built (and so load the triage model, empty) before either leads. The
first leads and applies a GitHub delivery; when it stops, the second takes over, and
its model must know the issue the first one stored (its in-memory index of numbers
and due cleanups is built again from the store as its term begins), so its cleanup
and its ``!status`` line see it. GitHub itself is unreachable here: only the delivery
changes the model."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests.plugins.triage.conftest import SECRET, fixture
from tests.waiting import free_port, wait_for
from univac import WebhookRequest
from univac.config import from_mapping
from univac.engine.bot import Bot
from univac.kit import webhook as hooks
from univac.plugins.triage import runtime
from univac.settings import Source

pytestmark = pytest.mark.integration


def bot(folder: Path, dsn: str, label: str) -> Bot:
    folder.mkdir()
    triage = {"repo": "acme/rocket", "team": "hackers", "token": "personal-token",
              "api_url": f"http://127.0.0.1:{free_port()}", "targets": ["k:#triage"]}
    data = {
        "bot": {"plugins": ["triage"], "state_dir": str(folder), "shutdown_timeout_s": 2.0},
        "store": {"backend": "postgres", "dsn": dsn},
        "ha": {"enabled": True, "heartbeat_s": 0.2, "lease_s": 1.0, "step_down_s": 1.0,
               "grace_s": 2.0},
        "transports": [{"type": "tests.core.sample_transports.keeper", "name": "k",
                        "label": label}],
        "plugins": {"triage": triage},
    }
    return Bot(from_mapping(data, Source("<test>", folder)))


def deliver(to: Bot, payload: dict) -> int:
    body = json.dumps(payload).encode()
    headers = {"X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-1",
               "X-Hub-Signature-256": hooks.sign(SECRET, body)}
    route = next(r for r in to.webhooks() if r.path == "/triage")
    return route.call(WebhookRequest("POST", "/triage", headers, body)).status


def test_the_next_leader_s_model_knows_what_the_last_one_stored(
        tmp_path: Path, postgres: str) -> None:
    first, second = bot(tmp_path / "a", postgres, "a"), bot(tmp_path / "b", postgres, "b")
    model = runtime.of(second.contexts["triage"]).model
    threads = [threading.Thread(target=b.run, name=f"bot-{n}") for n, b in
               (("a", first), ("b", second))]
    try:
        threads[0].start()
        wait_for(lambda: first.ha.role() == "leader", 30, "the first bot leading")
        threads[1].start()
        wait_for(lambda: second.ha.role() == "standby", 30, "the second bot standing by")
        assert deliver(first, fixture("issues_opened.json")) == 200
        assert runtime.of(first.contexts["triage"]).model.numbers() == [7]
        assert model.numbers() == []  # a standby's model: loaded at start
        first.request_stop()
        threads[0].join(30)
        wait_for(lambda: second.ha.role() == "leader", 30, "the second bot leading")
        wait_for(lambda: model.numbers() == [7], 30, "the new leader's model to know #7")
        assert list(model.pending()) == [7]
        assert second.status().plugins["triage"].startswith("1 open issue(s) tracked, 1 cleanup(s)")
    finally:
        for each, thread in zip((first, second), threads, strict=True):
            each.request_stop()
            if thread.is_alive():
                thread.join(30)
