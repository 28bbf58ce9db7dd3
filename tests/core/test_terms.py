"""Terms of leadership: gated threads run only during a term, transports are made
afresh for each term and stay silent outside one; the ``[ha]`` table."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.waiting import wait_for
from univac.config import from_mapping
from univac.engine.lease import HaSettings
from univac.engine.terms import Terms
from univac.errors import ConfigError
from univac.ops.sdnotify import summary
from univac.settings import Source
from univac.transport import TransportStatus


class Rerunnable:
    """A fake transport that records what it is asked."""

    made = 0

    def __init__(self, name: str = "irc") -> None:
        Rerunnable.made += 1
        self.name = name
        self.number = Rerunnable.made
        self.stopped = threading.Event()
        self.sent: list[tuple[str, str]] = []
        self.runs = 0

    def run(self, deliver) -> None:
        self.runs += 1
        self.stopped.wait(30)

    def send(self, target: str, text: str) -> None:
        self.sent.append((target, text))

    def stop(self, goodbye: str = "") -> None:
        self.stopped.set()

    def status(self) -> TransportStatus:
        return TransportStatus("connected", "univac")


def test_without_ha_everything_passes_through() -> None:
    stop = threading.Event()
    terms = Terms(False, stop, 1.0)
    target = lambda: None  # noqa: E731
    transports = {"irc": Rerunnable()}
    assert terms.gate(target) is target and terms.quiet is stop and terms.active()
    assert terms.wrap(transports, {}) is transports


def test_a_gated_thread_runs_only_during_terms_with_fresh_transports() -> None:
    terms = Terms(True, threading.Event(), 5.0)
    made: list[Rerunnable] = []

    def make() -> Rerunnable:
        made.append(Rerunnable())
        return made[-1]

    first = Rerunnable()
    proxy = terms.wrap({"irc": first}, {"irc": make})["irc"]
    thread = threading.Thread(target=terms.gate(lambda: proxy.run(None)), daemon=True)
    thread.start()
    assert proxy.status().state == "standby" and terms.quiet.is_set()
    proxy.send("#ops", "from a standby")
    assert first.sent == [] and first.runs == 0
    assert terms.begin()
    wait_for(lambda: first.runs == 1, 10, "the first term runs the first transport")
    proxy.send("#ops", "hello")
    assert first.sent == [("#ops", "hello")] and proxy.status().state == "connected"
    assert terms.end() and first.stopped.is_set() and terms.quiet.is_set()
    proxy.send("#ops", "after the term")
    assert first.sent == [("#ops", "hello")]
    assert terms.begin()
    wait_for(lambda: made and made[0].runs == 1, 10, "a fresh transport in the next term")
    assert first.runs == 1 and thread.is_alive()
    terms.close()
    proxy.stop()
    thread.join(10)
    assert not thread.is_alive()


def test_a_target_that_returns_during_its_term_has_finished() -> None:
    terms = Terms(True, threading.Event(), 5.0)
    runs: list[int] = []
    thread = threading.Thread(target=terms.gate(lambda: runs.append(1)), daemon=True)
    thread.start()
    terms.begin()
    thread.join(10)
    assert not thread.is_alive() and runs == [1]


def test_end_reports_a_transport_that_does_not_stop() -> None:
    terms = Terms(True, threading.Event(), 0.2)
    stubborn = Rerunnable()
    stubborn.stop = lambda goodbye="": None  # type: ignore[method-assign]
    proxy = terms.wrap({"irc": stubborn}, {})["irc"]
    threading.Thread(target=terms.gate(lambda: proxy.run(None)), daemon=True).start()
    terms.begin()
    wait_for(lambda: stubborn.runs == 1, 10, "running")
    assert terms.end() is False
    stubborn.stopped.set()
    assert terms.wait_stopped(10)


def test_pollers_wait_on_quiet_and_close_releases_every_gate() -> None:
    terms = Terms(True, threading.Event(), 1.0)
    ran: list[int] = []

    def poller() -> None:
        ran.append(1)
        terms.quiet.wait(30)

    thread = threading.Thread(target=terms.gate(poller, counted=False), daemon=True)
    thread.start()
    terms.close()
    thread.join(10)
    assert not thread.is_alive() and ran == [] and not terms.begin()


def load(ha: dict, store: dict | None = None):
    data = {"ha": ha, "store": store or {}}
    return from_mapping(data, Source("univac.toml", Path("."), {}))


def test_the_ha_table_needs_postgres_and_a_safe_grace_period() -> None:
    assert load({}).ha == HaSettings()
    postgres = {"backend": "postgres", "dsn": "host=db"}
    assert load({"enabled": True}, postgres).ha.enabled
    with pytest.raises(ConfigError) as caught:
        load({"enabled": True})
    assert [str(issue) for issue in caught.value.issues] == [
        'univac.toml: ha.enabled: needs [store] backend = "postgres": the sqlite store has '
        "no leader lease (instances share the lease through one database)"]
    with pytest.raises(ConfigError) as caught:
        load({"enabled": True, "lease_s": 5, "grace_s": 6}, postgres)
    assert "grace_s must be at least lease_s + step_down_s" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load({"enabled": True, "heartbeat_s": 2}, postgres)
    assert "lease_s must be at least twice heartbeat_s" in str(caught.value)


def test_the_status_line_begins_with_the_role() -> None:
    assert summary({"irc": "standby"}, [], 1, "standby") == (
        "standby; transports: irc standby; pollers: 1/1 running")
