"""IRC output against real servers: no reply lost, fairness under floods, many channels."""

from __future__ import annotations

import selectors
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.irc_servers import IrcUser
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


class RawUser:
    """A registered client that can write a burst and is read without blocking."""

    def __init__(self, port: int, nick: str, channel: str) -> None:
        self.user = IrcUser(port, nick)
        self.user.join(channel)
        self.sock = self.user.sock
        self.sock.setblocking(False)
        self.buffer = self.user.buffer

    def burst(self, lines: list[str]) -> None:
        """Write every line at once."""
        self.sock.setblocking(True)
        self.sock.sendall("".join(f"{line}\r\n" for line in lines).encode())
        self.sock.setblocking(False)

    def read(self) -> list[bytes]:
        try:
            data = self.sock.recv(1 << 18)
        except BlockingIOError:
            return []
        if not data:
            raise AssertionError("the server closed the connection")
        complete, _nl, self.buffer = (self.buffer + data).rpartition(b"\n")
        return complete.split(b"\n") if complete else []


def collect(users: list[RawUser], done, timeout: float) -> None:
    """Read every user's socket (so the server never drops a slow reader) until
    ``done(line)`` says so for lines of ``users[0]``, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        for user in users:
            sel.register(user.sock, selectors.EVENT_READ, user)
        while time.monotonic() < deadline:
            for key, _mask in sel.select(0.5):
                for line in key.data.read():
                    if key.data is users[0] and done(line):
                        return
    raise AssertionError("timed out")


def univac_run(tmp_path: Path, port: int, channel: str) -> subprocess.Popen:
    """``univac run`` with the echo plugin, IRC flood control and the core's rate limits
    off, the output queues at their defaults; its log goes to ``tmp_path/univac.log``."""
    config = tmp_path / "univac.toml"
    config.write_text(
        f'[bot]\nplugins = ["echo"]\nstate_dir = "{tmp_path / "state"}"\nqueue_size = 4096\n'
        f"user_rate = 0\nchannel_rate = 0\n[[transports]]\ntype = \"irc\"\n"
        f'host = "127.0.0.1"\nport = {port}\ntls = false\nchannels = ["{channel}"]\n'
        f'motd_wait_s = 0.2\nsts_file = "{tmp_path / "sts.json"}"\nflood_rate = 0\n'
    )  # fmt: skip
    univac = Path(sys.executable).parent / "univac"
    with open(tmp_path / "univac.log", "wb") as log:
        return subprocess.Popen([str(univac), "run", "--config", str(config)], stdout=log,
                                stderr=subprocess.STDOUT)  # fmt: skip


def test_ngircd_no_reply_lost_when_the_server_reads_slowly(ngircd, tmp_path):
    """The independent benchmark's case, default queue settings: 10 users send 100
    channel commands each at once to ``univac run``; ngircd reads 3 commands per client
    per loop, so the bot's replies wait on the socket, and every one must still arrive
    (before: a third of them were dropped, "output queue for #bench full")."""
    server = ngircd()
    observer = RawUser(server.port, "observer", "#bench")
    bot = univac_run(tmp_path, server.port, "#bench")
    try:
        collect([observer], lambda line: line.startswith(b":univac!") and b" JOIN " in line, 20)
        users = [RawUser(server.port, f"load{i}", "#bench") for i in range(10)]
        for i, user in enumerate(users):
            user.burst([f"PRIVMSG #bench :!echo c{i}-{j}" for j in range(100)])
        replies: set[bytes] = set()

        def all_seen(line: bytes) -> bool:
            if line.startswith(b":univac!") and b" PRIVMSG #bench :c" in line:
                replies.add(line.rstrip(b"\r").rsplit(b" :", 1)[1])
            return len(replies) == 1000

        try:
            collect([observer, *users], all_seen, 120)
        except AssertionError:
            raise AssertionError(f"{1000 - len(replies)} of 1000 replies lost") from None
    finally:
        bot.terminate()
        bot.wait(10)
    assert "dropped" not in (tmp_path / "univac.log").read_text()


def test_ngircd_second_user_answered_while_four_connections_flood(ngircd, irc_bot):
    """Default flood control (8 lines, then 1 per second): four connections flood the
    channel with 200 commands each; another user's command in the same channel is
    answered ahead of their hundreds of waiting replies (before: 10 s behind them)."""
    server = ngircd()
    bot = irc_bot(server.port, channels=("#flood",), echo=True)
    wait_for(lambda: "#flood" in bot.transport.status().targets, 10, "bot in #flood")
    asker = RawUser(server.port, "asker", "#flood")
    floods = [RawUser(server.port, f"flooder{i}", "#flood") for i in range(4)]
    for i, flooder in enumerate(floods):
        flooder.burst([f"PRIVMSG #flood :!echo f{i}-{j}" for j in range(200)])
    wait_for(lambda: bot.transport._sender.replies.held > 20 * 400, 20, "the flood queued")
    while asker.read():  # what came before the question does not count
        pass
    asker.sock.sendall(b"PRIVMSG #flood :!echo second-user\r\n")
    answers: list[bytes] = []

    def answered(line: bytes) -> bool:
        if line.startswith(b":univac!") and b" PRIVMSG #flood :" in line:
            answers.append(line.rstrip(b"\r").rsplit(b" :", 1)[1])
        return answers[-1:] == [b"second-user"]

    collect([asker, *floods], answered, 10)
    assert len(answers) <= 3  # at most a line or two of the flood came first
    assert bot.transport.status().reconnects == 0


def test_ngircd_500_channels_joined_and_rejoined_after_a_restart(ngircd, irc_bot):
    """500 channels with the default flood control: the JOINs go about 25 channels to a
    line (20 lines, not 500) and never wait behind replies; the same after a restart."""
    server = ngircd()
    channels = tuple(f"#many-{i:03d}" for i in range(500))
    bot = irc_bot(server.port, channels=channels, echo=True)
    wait_for(lambda: len(bot.transport.status().targets) == 500, 60, "500 channels joined")
    assert bot.transport.status().detail == ""
    server.kill()
    wait_for(lambda: bot.transport.status().state != "connected", 10, "drop noticed")
    server.start()
    wait_for(lambda: bot.transport.status().reconnects == 1, 30, "reconnected")
    wait_for(lambda: len(bot.transport.status().targets) == 500, 60, "500 channels rejoined")
    user = IrcUser(server.port, "bob")
    user.join("#many-499")
    user.say("#many-499", "!echo still here")
    user.wait(lambda line: "PRIVMSG #many-499 :still here" in line)
    user.close()


def test_inspircd_chanlimit_bounds_each_join_line(inspircd, irc_bot, monkeypatch):
    """InspIRCd announces CHANLIMIT=#:20 (and no TARGMAX): JOIN lines name at most 20
    channels each, and every channel is joined."""
    from univac.transports.irc.sender import Sender

    sent: list[str] = []
    control = Sender.control
    monkeypatch.setattr(Sender, "control", lambda self, lines: (sent.extend(lines),
                                                               control(self, lines)))
    channels = tuple(f"#lim{i:02d}" for i in range(45))
    bot = irc_bot(inspircd.port, nick="limitbot", channels=channels)
    wait_for(lambda: len(bot.transport.status().targets) == 45, 30, "45 channels joined")
    assert bot.transport._session.link.isupport["CHANLIMIT"] == "#:20"
    joins = [line.split(" ")[1].split(",") for line in sent if line.startswith("JOIN ")]
    assert [len(names) for names in joins] == [20, 20, 5]


def test_ngircd_ctcp_flood_answered_a_few_times_and_logged_once(ngircd, irc_bot, caplog):
    server = ngircd()
    bot = irc_bot(server.port, channels=("#c",), flood_rate=0)
    wait_for(lambda: "#c" in bot.transport.status().targets, 10, "bot in #c")
    flooder = IrcUser(server.port, "ctcper")
    flooder.sock.sendall(b"PRIVMSG univac :\x01VERSION\x01\r\n" * 2000)
    wait_for(lambda: bot.transport.status().dropped["ctcp"] == 1997, 30, "CTCP refused")
    bot.transport.send("ctcper", "end of test")
    flooder.wait(lambda line: "PRIVMSG ctcper :end of test" in line, 10)
    assert sum("NOTICE ctcper :\x01VERSION" in line for line in flooder.lines) == 3
    wait_for(lambda: any("dropped" in r.getMessage() for r in caplog.records), 10, "logged")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["irc-test: dropped 1997 outgoing lines in the last "
                        f"{warnings[0].split(' last ')[1].split(' s:')[0]} s: "
                        "1997 for ctcper (CTCP limit)"]
    flooder.close()
