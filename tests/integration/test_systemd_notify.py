"""The real ``univac`` process speaks sd_notify to a test that plays systemd."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.botprocess import BotProcess

PING_USEC = 400_000
"""``WATCHDOG_USEC`` for the tests: the bot pings every 0.2 s."""

# A transport steered by files in a folder: ``crash`` (removed, then run raises once)
# and ``wedge`` (run takes the lock that status() needs, and never lets go).
CONTROLLED = '''\
import os
import threading
from dataclasses import dataclass

from univac import TransportStatus


@dataclass(frozen=True)
class Settings:
    folder: str = ""


class Controlled:
    def __init__(self, name, settings):
        self.name, self.folder = name, settings.folder
        self.lock, self.stopping, self.state = threading.Lock(), threading.Event(), "starting"

    def run(self, deliver):
        self.state = "connected"
        while not self.stopping.wait(0.02):
            if self._take("crash"):
                raise RuntimeError("link lost")
            if self._take("wedge"):
                with self.lock:
                    threading.Event().wait()

    def _take(self, name):
        path = os.path.join(self.folder, name)
        if not os.path.exists(path):
            return False
        os.remove(path)
        return True

    def send(self, target, text):
        pass

    def stop(self, goodbye=""):
        self.stopping.set()

    def status(self):
        with self.lock:
            return TransportStatus(self.state)


def create(name, settings):
    return Controlled(name, settings)
'''


def controlled_config(tmp_path: Path, console: bool = True) -> Path:
    """A config with the controlled transport ``link`` (and the console, if asked)."""
    (tmp_path / "controlled.py").write_text(CONTROLLED, encoding="utf-8")
    console_table = '[[transports]]\ntype = "console"\nuser = "operator"\n' if console else ""
    path = tmp_path / "univac.toml"
    path.write_text(
        f'[bot]\nplugins = ["echo"]\nstate_dir = "state"\nmax_crashes = 20\n{console_table}'
        f'[[transports]]\nname = "link"\ntype = "{tmp_path / "controlled.py"}"\n'
        f'folder = "{tmp_path}"\n', encoding="utf-8")
    return path


@dataclass
class Note:
    """One datagram as received, with its arrival time."""

    at: float
    fields: dict[str, str] = field(default_factory=dict)


class FakeSystemd:
    """An abstract-namespace datagram socket, as systemd hands out in NOTIFY_SOCKET."""

    def __init__(self) -> None:
        self.name = f"univac-test-{uuid.uuid4().hex}"
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind("\0" + self.name)
        self.notes: list[Note] = []

    def environ(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + self.name)
        monkeypatch.setenv("WATCHDOG_USEC", str(PING_USEC))
        monkeypatch.delenv("WATCHDOG_PID", raising=False)

    def next(self, timeout: float) -> Note | None:
        """The next datagram, or None when none comes within ``timeout`` seconds."""
        self.socket.settimeout(timeout)
        try:
            data = self.socket.recv(4096)
        except TimeoutError:
            return None
        note = Note(time.monotonic(), dict(
            line.split("=", 1) for line in data.decode().splitlines()))
        self.notes.append(note)
        return note

    def wait_for(self, key: str, contains: str = "", timeout: float = 10.0) -> Note:
        """The first datagram from now on whose ``key`` holds ``contains``."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            note = self.next(left)
            if note is not None and contains in note.fields.get(key, "\0"):
                return note
        raise AssertionError(f"no {key}={contains!r} within {timeout} s: {self.notes}")

    def pings_between(self, first: Note, last: Note) -> int:
        span = self.notes[self.notes.index(first) + 1:self.notes.index(last)]
        return sum("WATCHDOG" in note.fields for note in span)

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def systemd(monkeypatch: pytest.MonkeyPatch) -> FakeSystemd:
    fake = FakeSystemd()
    fake.environ(monkeypatch)
    yield fake
    fake.close()


@pytest.fixture
def bots() -> list[BotProcess]:
    """Bots to kill after the test if it left them running (a failed assertion)."""
    started: list[BotProcess] = []
    yield started
    for bot in started:
        if bot.process.poll() is None:
            bot.process.kill()
            bot.process.wait(5)


def test_ready_status_watchdog_and_stopping_reach_the_service_manager(
    tmp_path: Path, systemd: FakeSystemd, bots: list[BotProcess]
) -> None:
    path = tmp_path / "univac.toml"
    path.write_text('[bot]\nplugins = ["echo"]\nstate_dir = "state"\n'
                    '[[transports]]\ntype = "console"\nuser = "operator"\n')
    bot = BotProcess("--config", str(path))
    bots.append(bot)
    ready = systemd.wait_for("READY", "1")
    assert ready.fields["STATUS"] == "transports: console connected; pollers: 0/0 running"
    pings = [systemd.wait_for("WATCHDOG", "1") for _ in range(3)]
    gaps = [b.at - a.at for a, b in itertools.pairwise(pings)]
    assert all(0.1 < gap < 0.6 for gap in gaps), gaps
    bot.send("!echo still here")
    assert bot.expect() == ["still here"]
    bot.process.send_signal(signal.SIGTERM)
    stopping = systemd.wait_for("STOPPING", "1")
    assert stopping.fields["STATUS"] == "stopping"
    assert bot.finish(timeout=10, close_stdin=False) == 0


def test_watchdog_pings_stop_while_a_transport_thread_is_dead(
    tmp_path: Path, systemd: FakeSystemd, bots: list[BotProcess]
) -> None:
    bot = BotProcess("--config", str(controlled_config(tmp_path)))
    bots.append(bot)
    systemd.wait_for("READY", "1")
    systemd.wait_for("WATCHDOG", "1")
    (tmp_path / "crash").touch()
    down = systemd.wait_for("STATUS", "link down, restarting")
    back = systemd.wait_for("STATUS", "link connected")
    systemd.wait_for("WATCHDOG", "1")
    assert systemd.pings_between(down, back) == 0
    assert "WATCHDOG" not in down.fields
    assert back.at - down.at > 1.5 * PING_USEC / 2e6  # a ping was held back at least
    bot.process.send_signal(signal.SIGTERM)
    assert bot.finish(timeout=10, close_stdin=False) == 0


def test_watchdog_pings_stop_when_a_wedged_transport_stalls_the_main_loop(
    tmp_path: Path, systemd: FakeSystemd, bots: list[BotProcess]
) -> None:
    bot = BotProcess("--config", str(controlled_config(tmp_path)))
    bots.append(bot)
    systemd.wait_for("READY", "1")
    systemd.wait_for("WATCHDOG", "1")
    bot.send("!echo before")
    assert bot.expect() == ["before"]
    (tmp_path / "wedge").touch()
    wedged = time.monotonic()
    while systemd.next(timeout=5 * PING_USEC / 1e6) is not None:
        assert time.monotonic() - wedged < 2, "pings went on after the wedge"
    assert not (tmp_path / "wedge").exists()
    os.kill(bot.process.pid, signal.SIGKILL)
    assert bot.finish(timeout=10, close_stdin=False) == -signal.SIGKILL
