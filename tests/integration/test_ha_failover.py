"""Two instances, one active, with real parts: PostgreSQL, ngircd, two ``univac``
processes with one configuration, a feed on a local HTTP server, and an IRC user who
watches the server's user count and the channel the whole time (ha_cluster.py).

- kill -9 of the leader: the standby takes over and answers; commands sent during the
  failover are answered at most once; the feed poller announces nothing twice (the
  new leader reads the seen-set its predecessor committed); a standby's /healthz is
  503, the leader's 200.
- PostgreSQL stopped for 20 s: the leader steps down at once and never two bots are
  on IRC; when it is back, one instance leads again and answers.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.botprocess import univac_command
from tests.integration.ha_cluster import Instance, Watcher, write_config
from tests.integration.postgres_servers import Postgres
from tests.plugins.servers import HttpServer, Reply, recorded
from tests.waiting import wait_for
from univac.engine.store import StoreEntry, open_store
from univac.stores import postgres as backend

pytestmark = pytest.mark.integration

STAGE_TWO = "[Rocket Blog] Stage two https://rocket.example/blog/3/"
TELEMETRY = "[Rocket Blog] Telemetry live https://rocket.example/blog/4/"
LAUNCH = "[Rocket Blog] Launch https://rocket.example/blog/5/"
LAUNCH_ITEM = (b'<item>\n    <title>Launch</title>\n    <link>https://rocket.example/blog/5/'
               b'</link>\n    <guid isPermaLink="false">rocket-blog-5</guid>\n  </item>\n  <item>')


class Cluster:
    """What one test runs: the watcher, the instances, the feed; all closed at the end."""

    def __init__(self, folder: Path, irc_port: int, dsn: str, feed: str = "") -> None:
        self.folder, self.dsn = folder, dsn
        self.config = write_config(folder, irc_port, dsn, feed)
        self.watcher = Watcher(irc_port)
        self.instances: list[Instance] = []

    def start(self, name: str) -> Instance:
        self.instances.append(Instance(self.config, name))
        return self.instances[-1]

    def ask(self, text: str, timeout: float = 30.0) -> None:
        """Say ``text`` until a bot answers it (the reply is ``text`` without ``!echo``)."""
        wanted = text.removeprefix("!echo ")
        deadline = time.monotonic() + timeout
        while True:
            self.watcher.say(text)
            try:
                wait_for(lambda: self.watcher.lines_said(wanted), 2.0, f"an answer to {text}")
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    def close(self) -> None:
        for instance in self.instances:
            instance.kill()
        self.watcher.close()


@pytest.fixture
def cluster(tmp_path: Path, ngircd, postgres: str) -> Iterator[Cluster]:
    server = ngircd()
    made: list[Cluster] = []

    def make(feed: str = "") -> Cluster:
        made.append(Cluster(tmp_path, server.port, postgres, feed))
        return made[-1]

    yield make  # type: ignore[misc]
    for each in made:
        each.close()


def store_write(dsn: str, namespace: str, key: str, value: object) -> None:
    """Write one record as an operator would (not fenced), the schema made first."""
    store = open_store(StoreEntry("postgres", backend, backend.Settings(dsn=dsn)), Path("."))
    try:
        store.commit(namespace, {key: json.dumps(value)}, None)
    finally:
        store.close()


def health(instance: Instance) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{instance.http_port()}/healthz", timeout=5)


def feed_with_launch(base: str) -> Reply:
    reply = recorded("feeds", "rss_new.http", base)
    reply.body = reply.body.replace(b"<item>", LAUNCH_ITEM, 1)
    reply.headers["ETag"] = '"rss-3"'
    reply.headers["Last-Modified"] = "Sun, 22 Nov 2026 19:45:00 GMT"
    return reply


def ticking(cluster: Cluster, stop: threading.Event, sent: list[str]) -> threading.Thread:
    """A user who says ``!echo tick-N`` every 0.3 s until ``stop``."""
    def run() -> None:
        while not stop.wait(0.3):
            sent.append(f"tick-{len(sent)}")
            cluster.watcher.say(f"!echo {sent[-1]}")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_kill_9_of_the_leader_the_standby_takes_over_answering_once(cluster) -> None:
    with HttpServer() as feeds:
        url = feeds.base + "/blog.xml"
        feeds.record("feeds", "/blog.xml", "rss_new.http")
        ha = cluster(feed=url)
        store_write(ha.dsn, "feeds", f"seen:{url}", ["rocket-blog-2", "rocket-blog-1"])
        first = ha.start("first")
        first.wait_log("leader: epoch 1")
        second = ha.start("second")
        second.wait_log("standby: another instance leads")
        wait_for(lambda: ha.watcher.bots() == {"univac"}, 30, "the leader in the channel")
        wait_for(lambda: ha.watcher.lines_said(TELEMETRY), 30, "the leader's announcement")
        assert health(first).status_code == 200
        standby = health(second)
        assert standby.status_code == 503 and standby.json()["role"] == "standby"

        store_write(ha.dsn, "feeds", "next_run", 0)  # the successor polls at once
        feeds.route("/blog.xml", feed_with_launch(feeds.base))
        stop, sent = threading.Event(), []
        ticker = ticking(ha, stop, sent)
        try:
            wait_for(lambda: len(ha.watcher.said) > 2, 30, "the leader answering ticks")
            first.kill()
            killed = time.monotonic()
            second.wait_log("leader: epoch 2", timeout=60)
            wait_for(lambda: any(s.when > killed and s.text.startswith("tick-")
                                 for s in ha.watcher.said), 60, "the new leader answering")
            wait_for(lambda: ha.watcher.lines_said(LAUNCH), 30, "the new item announced")
        finally:
            stop.set()
            ticker.join(10)
        ha.ask("!echo settled")  # everything sent before it has been answered by now

    answers = Counter(s.text for s in ha.watcher.said if s.text.startswith("tick-"))
    assert answers and max(answers.values()) == 1, answers
    after = [s.text for s in ha.watcher.said if s.when > killed and s.text.startswith("tick-")]
    assert after, "no tick answered after the kill"
    announced = Counter(s.text for s in ha.watcher.said if s.text.startswith("[Rocket"))
    assert announced == {STAGE_TWO: 1, TELEMETRY: 1, LAUNCH: 1}
    assert ha.watcher.most_bots_in_channel == 1
    assert ha.watcher.most_bot_connections == 1
    assert health(second).json()["role"] == "leader"
    assert "taking over: epoch 2" in second.tail(100)
    assert second.terminate() == 0


@pytest.mark.slow  # the outage lasts 20 s, and the takeover after it a grace period
def test_the_database_stops_for_20_s_and_never_two_bots_speak(
    cluster, postgres_server: Postgres
) -> None:
    ha = cluster()
    first = ha.start("first")
    first.wait_log("leader: epoch 1")
    second = ha.start("second")
    second.wait_log("standby: another instance leads")
    ha.ask("!echo before")
    stopped = time.monotonic()  # before: the leader may notice while the server stops
    postgres_server.stop()
    first.wait_log("standby: lease lost", after=stopped, timeout=30)
    wait_for(lambda: not ha.watcher.bots(), 30, "the leader off IRC")
    stepped_down = time.monotonic() - stopped
    while time.monotonic() - stopped < 20:  # the outage: nobody may speak meanwhile
        assert not ha.watcher.bots()
        time.sleep(0.2)
    postgres_server.start()
    ha.ask("!echo after", timeout=90)
    assert len(ha.watcher.lines_said("after")) == 1
    assert ha.watcher.most_bots_in_channel == 1
    assert ha.watcher.most_bot_connections == 1
    assert stepped_down < 10, f"stepped down {stepped_down:.1f} s after the database stopped"
    leaders = [i for i in ha.instances if health(i).json()["role"] == "leader"]
    assert len(leaders) == 1


def test_check_says_that_ha_needs_the_postgres_store(tmp_path: Path) -> None:
    config = write_config(tmp_path, 6667, "host=db.example.org dbname=univac")
    done = subprocess.run([*univac_command(), "check", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "postgres store, one active of several ([ha])" in done.stdout
    text = config.read_text().replace('backend = "postgres"', 'backend = "sqlite"')
    config.write_text(text.replace('dsn_file = "dsn"\n', ""))
    done = subprocess.run([*univac_command(), "check", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert ('ha.enabled: needs [store] backend = "postgres": the sqlite store has no leader '
            "lease") in done.stderr
