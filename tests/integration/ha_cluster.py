"""Two real ``univac`` processes with ``[ha]`` on, and an IRC user watching them.

Shared by tests/integration/test_ha_failover.py and benchmarks/failover.py:

- ``write_config``: one configuration file for every instance (IRC on a real server,
  the PostgreSQL store, ``[ha]``, the http plugin on a free port each, optionally the
  feeds plugin);
- ``Instance``: one ``univac`` process whose log lines (stderr) are collected as they
  come, with the time each arrived;
- ``Watcher``: a raw IRC user in the bots' channel. It follows who is in the channel
  (NAMES, JOIN, PART, QUIT, NICK), asks the server for its user count (LUSERS) every
  0.2 s, and keeps the highest number of bot connections seen at once, by both
  measures: the proof that two instances never speak at the same time. It also sends
  commands and records every line a bot says, with its arrival time.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.integration.botprocess import univac_command

CHANNEL = "#ha"
BOT = "univac"
HUMANS = 1
LUSERS = re.compile(r" 251 \S+ :There are (\d+) users")


def write_config(folder: Path, irc_port: int, dsn: str, feed: str = "",
                 ha: str = "enabled = true") -> Path:
    """The one configuration file every instance runs with."""
    (folder / "dsn").write_text(dsn + "\n", encoding="utf-8")
    plugins = '"echo", "status", "http"' + (', "feeds"' if feed else "")
    feeds = (f'\n[plugins.feeds]\nfeeds = ["{feed}"]\ntargets = ["irc:{CHANNEL}"]\n'
             "interval_s = 60\ntimeout_s = 5\n") if feed else ""
    path = folder / "univac.toml"
    path.write_text(f"""\
[bot]
plugins = [{plugins}]
state_dir = "state"
user_rate = 0
channel_rate = 0
shutdown_timeout_s = 2

[store]
backend = "postgres"
dsn_file = "dsn"

[ha]
{ha}

[plugins.http]
port = 0
allow_unsigned = true
{feeds}
[[transports]]
type = "irc"
host = "127.0.0.1"
port = {irc_port}
tls = false
nick = "{BOT}"
channels = ["{CHANNEL}"]
motd_wait_s = 0.2
reconnect_min_s = 0.2
reconnect_max_s = 2
sts_file = "sts.json"
""", encoding="utf-8")
    return path


class Instance:
    """One ``univac --config FILE`` process; its log lines, timestamped, in ``lines``."""

    def __init__(self, config: Path, name: str, env: dict[str, str] | None = None) -> None:
        """``env``: variables to set for this process only (as on another host)."""
        self.name = name
        self.process = subprocess.Popen(
            [*univac_command(), "--config", str(config)], cwd=config.parent,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, bufsize=1, env={**os.environ, **(env or {})})
        self.lines: list[tuple[float, str]] = []
        self._arrived = threading.Condition()
        threading.Thread(target=self._read, daemon=True, name=f"log:{name}").start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._arrived:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self._arrived.notify_all()

    def wait_log(self, text: str, timeout: float = 60.0, after: float = 0.0) -> float:
        """The arrival time of the first log line after ``after`` containing ``text``."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for when, line in self.lines:
                    if when >= after and text in line:
                        return when
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.name}: no log line with {text!r} in "
                                         f"{timeout} s; last lines:\n{self._tail()}")
                self._arrived.wait(min(left, 0.5))

    def has_logged(self, text: str) -> bool:
        with self._arrived:
            return any(text in line for _, line in self.lines)

    def http_port(self) -> int:
        """The port the http plugin listens on (it logs it at start)."""
        self.wait_log("serving healthz")
        with self._arrived:
            found = next(line for _, line in self.lines if "serving healthz" in line)
        return int(found.rsplit(":", 1)[1])

    def tail(self, count: int = 15) -> str:
        with self._arrived:
            return self._tail(count)

    def _tail(self, count: int = 15) -> str:
        return "\n".join(line for _, line in self.lines[-count:])

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def terminate(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


@dataclass(frozen=True)
class Said:
    """One line a bot said in the channel."""

    when: float
    nick: str
    text: str


class Watcher:
    """A raw IRC user in ``CHANNEL`` watching the bots (see the module docstring)."""

    def __init__(self, port: int, nick: str = "watcher") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self.members: set[str] = set()
        self.users = 0
        self.most_bots_in_channel = 0
        self.most_bot_connections = 0
        self.said: list[Said] = []
        self.joins: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self.raw(f"NICK {nick}")
        self.raw(f"USER {nick} 0 * :{nick}")
        self._buffer = b""
        self._wait_for(" 001 ")
        self.raw(f"JOIN {CHANNEL}")
        self._wait_for(" 366 ")
        self.sock.settimeout(None)
        threading.Thread(target=self._read, daemon=True, name="watcher").start()
        threading.Thread(target=self._count, daemon=True, name="watcher:lusers").start()

    def raw(self, line: str) -> None:
        with self._send_lock:
            self.sock.sendall(line.encode() + b"\r\n")

    def say(self, text: str) -> None:
        self.raw(f"PRIVMSG {CHANNEL} :{text}")

    def bots(self) -> set[str]:
        with self._lock:
            return {nick for nick in self.members if nick.lower().startswith(BOT)}

    def lines_said(self, text: str) -> list[Said]:
        with self._lock:
            return [said for said in self.said if said.text == text]

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.raw("QUIT :done")
        self.sock.close()

    def _wait_for(self, marker: str) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for line in self._lines(self.sock.recv(65536)):
                self._handle(line)
                if marker in line:
                    return
        raise AssertionError(f"watcher: no {marker.strip()} from the server")

    def _lines(self, data: bytes) -> list[str]:
        if not data:
            raise ConnectionError("the IRC server closed the watcher's connection")
        self._buffer += data
        *complete, self._buffer = self._buffer.split(b"\r\n")
        return [raw.decode(errors="replace") for raw in complete]

    def _read(self) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while not self._stop.is_set():
                for line in self._lines(self.sock.recv(65536)):
                    self._handle(line)

    def _count(self) -> None:
        with contextlib.suppress(OSError):
            while not self._stop.wait(0.2):
                self.raw("LUSERS")

    def _handle(self, line: str) -> None:
        if line.startswith("PING"):
            self.raw("PONG" + line[4:])
            return
        source, _, rest = line.partition(" ")
        nick = source[1:].split("!")[0]
        parts = rest.split(" ")
        with self._lock:
            self._track(nick, parts, line)
            bots = sum(1 for n in self.members if n.lower().startswith(BOT))
            self.most_bots_in_channel = max(self.most_bots_in_channel, bots)
            self.most_bot_connections = max(self.most_bot_connections, self.users - HUMANS)

    def _track(self, nick: str, parts: list[str], line: str) -> None:
        command = parts[0]
        if command == "353":
            self.members |= {n.lstrip("@+%&~") for n in line.split(" :", 1)[1].split()}
        elif command == "251" and (found := LUSERS.search(line)):
            self.users = int(found.group(1))
        elif command == "JOIN":
            self.members.add(nick)
            self.joins.append((time.monotonic(), nick))
        elif command in ("PART", "QUIT"):
            self.members.discard(nick)
        elif command == "NICK":
            self.members.discard(nick)
            self.members.add(parts[1].lstrip(":"))
        elif command == "PRIVMSG" and nick.lower().startswith(BOT):
            text = " ".join(parts[2:])[1:]
            self.said.append(Said(time.monotonic(), nick, text))
