"""sd_notify: addresses, the watchdog interval, and what a tick sends when."""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from pathlib import Path

import pytest

from univac.engine.supervisor import Supervisor
from univac.ops.sdnotify import Heartbeat, Notifier, parse, ping_interval, socket_address, summary


class Recorder(Notifier):
    """A notifier that keeps what it would send."""

    def __init__(self, interval: float | None = 1.0) -> None:
        super().__init__("\0unused", interval)
        self.sent: list[tuple[str, ...]] = []

    def send(self, *fields: str) -> bool:
        self.sent.append(fields)
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_socket_addresses_paths_and_abstract_names() -> None:
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("@univac/notify") == "\0univac/notify"
    assert socket_address("@") is None
    assert socket_address("vsock:2:1234") is None


def test_the_ping_interval_is_half_the_timeout_for_this_process_only() -> None:
    assert ping_interval({"WATCHDOG_USEC": "30000000"}, 42) == 15.0
    assert ping_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, 42) == 15.0
    assert ping_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, 42) is None
    assert ping_interval({"WATCHDOG_USEC": "0"}, 42) is None
    assert ping_interval({"WATCHDOG_USEC": "soon"}, 42) is None
    assert ping_interval({}, 42) is None


def test_from_environ_reads_and_unsets_the_variables() -> None:
    environ = {"NOTIFY_SOCKET": "@bus", "WATCHDOG_USEC": "2000000", "PATH": "/bin"}
    notifier = Notifier.from_environ(environ)
    assert (notifier.address, notifier.interval) == ("\0bus", 1.0)
    assert environ == {"PATH": "/bin"}
    assert not Notifier.from_environ({}).enabled


def test_datagrams_reach_an_abstract_socket_and_a_path_socket(tmp_path: Path) -> None:
    name = f"univac-unit-{uuid.uuid4().hex}"
    for bound, given in (("\0" + name, "@" + name), (str(tmp_path / "n"), str(tmp_path / "n"))):
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
            receiver.bind(bound)
            notifier = Notifier.from_environ({"NOTIFY_SOCKET": given})
            assert notifier.send("READY=1", "STATUS=fine")
            assert parse(receiver.recv(4096)) == {"READY": "1", "STATUS": "fine"}
            notifier.close()


def test_a_missing_receiver_is_logged_once_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(str(tmp_path / "nobody"), None)
    with caplog.at_level(logging.WARNING, "univac.sdnotify"):
        assert not notifier.send("WATCHDOG=1")
        assert not notifier.send("WATCHDOG=1")
    assert len(caplog.records) == 1
    assert "cannot notify" in caplog.records[0].getMessage()


def test_ready_once_status_on_change_and_pings_at_the_interval() -> None:
    notifier, clock = Recorder(interval=1.0), Clock()
    status = ["a"]
    beat = Heartbeat(notifier, lambda: [], lambda: status[0], clock)
    beat.tick()
    clock.now += 0.5
    beat.tick()
    clock.now += 0.5
    beat.tick()
    status[0] = "b"
    beat.tick()
    beat.stopping()
    assert notifier.sent == [
        ("READY=1", "STATUS=a", "WATCHDOG=1"),
        ("WATCHDOG=1",),
        ("STATUS=b",),
        ("STOPPING=1", "STATUS=stopping"),
    ]


def test_no_ping_while_a_child_thread_is_down() -> None:
    notifier, clock = Recorder(interval=1.0), Clock()
    down = ["transport:irc"]
    beat = Heartbeat(notifier, lambda: list(down), lambda: "s", clock)
    for _ in range(3):
        beat.tick()
        clock.now += 1.0
    down.clear()
    beat.tick()
    assert notifier.sent == [("READY=1", "STATUS=s"), ("WATCHDOG=1",)]


def test_without_a_watchdog_interval_no_pings_are_sent() -> None:
    notifier = Recorder(interval=None)
    beat = Heartbeat(notifier, lambda: [], lambda: "s", Clock())
    beat.tick()
    beat.tick()
    assert notifier.sent == [("READY=1", "STATUS=s")]


def test_the_status_line_names_each_transport_and_counts_pollers() -> None:
    states = {"irc": "connected", "xmpp": "connecting"}
    assert summary(states, [], 2) == (
        "transports: irc connected, xmpp connecting; pollers: 2/2 running")
    assert summary(states, ["transport:irc", "poll:feed.check"], 2) == (
        "transports: irc down, restarting, xmpp connecting; pollers: 1/2 running")


def test_a_disabled_notifier_sends_nothing() -> None:
    notifier = Notifier(None, 5.0)
    assert notifier.interval is None
    assert not notifier.send("READY=1")


def test_the_supervisor_reports_crashed_children_as_down_but_not_finished_ones() -> None:
    stop = threading.Event()
    sup = Supervisor(stop, 10, 60.0, backoff_s=(30.0, 30.0), rng=lambda: 1.0)
    sup.add("transport:console", lambda: None, essential=True)
    sup.add("transport:irc", lambda: stop.wait(10), essential=True)
    sup.add("poll:feed.check", lambda: 1 / 0)
    seen: list[list[str]] = []

    def look() -> None:
        if not sup.alive()["poll:feed.check"] and sup.alive()["transport:irc"]:
            seen.append(sup.down())
            stop.set()

    sup.on_tick(look)
    assert sup.run(tick_s=0.01) == 0
    assert seen == [["poll:feed.check"]]
