"""Unit tests of the IRC ``Sender``: fairness by requester, bounds, control, CTCP, drop logs."""

from __future__ import annotations

import logging
import socket

import pytest

from univac.transports.irc.channels import Channels, join_lines
from univac.transports.irc.sender import CTCP_MAX, Sender
from univac.transports.irc.state import Link

T0 = 1000.0


def make(flood_rate: float = 0.0, **options) -> Sender:
    values = {"flood_burst": 8, "flood_rate": flood_rate, "max_queued_lines": 200,
              "max_queued_bytes": 4 << 20, **options}  # fmt: skip
    return Sender("irc-unit", **values)


def registered() -> Link:
    link = Link("univac", "univac", False, 0.0)
    link.registered, link.userhost = True, "u@h"
    return link


class Wire:
    """A socketpair: what the sender writes, read back as lines."""

    def __init__(self) -> None:
        self.ours, self.peer = socket.socketpair()
        self.ours.setblocking(False)
        self.peer.setblocking(False)
        self.buffer = b""

    def lines(self, sender: Sender, now: float = T0, limit: int = 1_000_000) -> list[str]:
        """Flush until nothing more goes out (or ``limit`` lines); return them."""
        got: list[str] = []
        while len(got) < limit:
            sender.flush(self.ours, now, registered=True)
            try:
                data = self.peer.recv(1 << 20)
            except BlockingIOError:
                data = b""
            if not data and not sender.wbuf:
                return got
            self.buffer += data
            *complete, self.buffer = self.buffer.split(b"\r\n")
            got.extend(line.decode() for line in complete)
        return got

    def close(self) -> None:
        self.ours.close()
        self.peer.close()


@pytest.fixture
def wire():
    made = Wire()
    yield made
    made.close()


def test_a_newcomer_is_served_before_whoever_floods(wire):
    sender, link = make(), registered()
    for i in range(30):
        sender.submit("#c", f"flood {i}", "mask:flooder!f@h")
    sender.drain(link, T0)
    assert sender.replies.pop(T0) == b"PRIVMSG #c :flood 0\r\n"
    assert sender.replies.pop(T0) == b"PRIVMSG #c :flood 1\r\n"
    sender.submit("#c", "your answer", "mask:bob!b@h")
    sender.drain(link, T0)
    assert wire.lines(sender)[:2] == ["PRIVMSG #c :your answer", "PRIVMSG #c :flood 2"]


def test_several_flooders_in_one_channel_do_not_delay_another_user(wire):
    sender, link = make(), registered()
    for i in range(100):
        for flooder in range(4):
            sender.submit("#c", f"f{flooder}-{i}", f"mask:flood{flooder}!f@h")
    sender.drain(link, T0)
    assert len(wire.lines(sender, limit=40)) >= 40
    sender.submit("#c", "second user", "mask:second!s@h")
    sender.drain(link, T0)
    assert wire.lines(sender, limit=1)[0] == "PRIVMSG #c :second user"


def test_with_flood_control_a_newcomer_does_not_wait_for_the_next_token(wire):
    sender, link = make(flood_rate=1.0, flood_burst=8), registered()
    for flooder in range(4):
        sender.submit("#c", "\n".join(f"f{flooder}-{i}" for i in range(50)), f"flood{flooder}")
    sender.drain(link, T0)
    first = wire.lines(sender, T0)
    assert len(first) == 6  # the burst, less the reserve kept for people who ask once
    assert wire.lines(sender, T0 + 0.5) == []
    sender.submit("#c", "second user", "mask:second!s@h")
    sender.drain(link, T0 + 0.5)
    assert wire.lines(sender, T0 + 0.5) == ["PRIVMSG #c :second user"]
    later = [wire.lines(sender, T0 + second) for second in range(1, 11)]
    assert [len(lines) for lines in later] == [0] + [1] * 9  # still one line per second


def test_requesters_take_turns_and_keep_their_order(wire):
    sender, link = make(), registered()
    sender.submit("#c", "a1\na2\na3", "alice")
    sender.submit("#c", "b1\nb2", "bob")
    sender.drain(link, T0)
    sent = [line.split(":", 1)[1] for line in wire.lines(sender)]
    assert sent == ["a1", "b1", "a2", "b2", "a3"]


def test_flood_control_on_drops_only_the_flooders_oldest_lines(wire):
    sender, link = make(flood_rate=1.0, max_queued_lines=5), registered()
    sender.submit("#c", "\n".join(f"f{i}" for i in range(20)), "flooder")
    sender.submit("#c", "b1\nb2\nb3", "bob")
    sender.drain(link, T0)
    sent = []
    for second in range(30):
        sent += [line.split(":", 1)[1] for line in wire.lines(sender, T0 + second)]
    assert sorted(sent) == sorted(["f15", "f16", "f17", "f18", "f19", "b1", "b2", "b3"])
    assert sender.dropped() == {"lines": 15, "bytes": 0, "ctcp": 0, "inbox": 0}


def test_without_flood_control_nothing_is_dropped_below_the_budget(wire):
    sender, link = make(flood_rate=0, max_queued_bytes=1 << 20), registered()
    for i in range(5000):  # the peer reads nothing: the socket pushes back
        sender.submit("#c", f"reply number {i:05d}", "mask:someone!s@h")
    sender.drain(link, T0)
    sender.flush(wire.ours, T0, registered=True)
    assert sender.dropped()["bytes"] == 0 and sender.dropped()["lines"] == 0
    sent = [line.split(":", 1)[1] for line in wire.lines(sender)]
    assert sent == [f"reply number {i:05d}" for i in range(5000)]


def test_past_the_budget_the_biggest_requester_loses_its_oldest_lines(wire):
    sender, link = make(flood_rate=0, max_queued_bytes=8192), registered()
    sender.submit("#c", "b1\nb2", "bob")
    sender.submit("#c", "\n".join(f"flood line {i:04d}" for i in range(1000)), "flooder")
    sender.drain(link, T0)
    assert sender.replies.held <= 8192
    sent = [line.split(":", 1)[1] for line in wire.lines(sender)]
    assert sent[:3] == ["b1", sent[1], "b2"] and "flood line 0999" in sent
    assert "flood line 0000" not in sent
    assert sender.dropped()["bytes"] == 1000 - len(sent) + 2


def test_control_lines_go_first_and_are_never_dropped(wire):
    sender, link = make(flood_rate=1.0, max_queued_lines=1, max_queued_bytes=4096), registered()
    sender.submit("#c", "\n".join(f"r{i}" for i in range(50)), "someone")
    sender.drain(link, T0)
    sender.control([f"JOIN #chan{i}" for i in range(300)])
    sender.ctcp("pinger", "\x01PING 1\x01", T0)
    sent = []
    for second in range(400):
        sent += wire.lines(sender, T0 + second)
    assert sent[:300] == [f"JOIN #chan{i}" for i in range(300)]
    assert sent[300:] == ["PRIVMSG #c :r49", "NOTICE pinger :\x01PING 1\x01"]


def test_urgent_lines_skip_flood_control_and_queues(wire):
    sender, link = make(flood_rate=1.0, flood_burst=1), registered()
    sender.submit("#c", "one\ntwo", "someone")
    sender.drain(link, T0)
    assert wire.lines(sender) == ["PRIVMSG #c :one"]
    sender.urgent("PONG :now")
    assert wire.lines(sender) == ["PONG :now"]
    assert 0.9 < sender.wait(T0, registered=True) <= 1.0


def test_ctcp_flood_gets_a_few_replies_and_one_log_line(wire, caplog):
    sender = make(flood_rate=0)
    with caplog.at_level(logging.WARNING, "univac.transports.irc"):
        for i in range(5000):
            sender.ctcp("flooder", "\x01VERSION Univac\x01", T0 + i * 0.001)
        sent = wire.lines(sender, T0 + 5)
        sender.drops.report(T0 + 10)
    assert len(sent) == 3  # the per-nick burst; then one every 10 s
    assert sender.dropped()["ctcp"] == 4997
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == ["irc-unit: dropped 4997 outgoing lines in the last 10.0 s: "
                        "4997 for flooder (CTCP limit)"]


def test_ctcp_from_many_nicks_stays_bounded_and_behind_replies(wire):
    sender, link = make(flood_rate=0), registered()
    for i in range(500):
        sender.ctcp(f"bot{i}", "\x01VERSION Univac\x01", T0)
    sender.submit("#c", "a real answer", "someone")
    sender.drain(link, T0)
    sent = wire.lines(sender)
    assert sent[0] == "PRIVMSG #c :a real answer"
    assert len(sent) == 1 + CTCP_MAX
    assert sender.dropped()["ctcp"] == 500 - CTCP_MAX


def one_by_one(sender: Sender, count: int, every: float) -> None:
    """Queue ``count`` lines for #chan, one each ``every`` seconds, reporting drops."""
    link = registered()
    for i in range(count):
        sender.submit("#chan", f"line {i}", "")
        sender.drain(link, T0 + i * every)
        sender.drops.report(T0 + i * every)


def test_drops_are_logged_once_per_burst(caplog):
    sender = make(flood_rate=1.0, max_queued_lines=2)
    with caplog.at_level(logging.WARNING, "univac.transports.irc"):
        one_by_one(sender, 200, 0.01)
        assert caplog.records == []  # the burst goes on: nothing logged yet
        assert sender.wait(T0 + 2, registered=False) == pytest.approx(1.99)  # quiet at +3.99
        sender.drops.report(T0 + 5)
        sender.drops.report(T0 + 6)
    assert [r.getMessage() for r in caplog.records] == [
        "irc-unit: dropped 198 outgoing lines in the last 5.0 s: "
        "198 for #chan (over max_queued_lines)"]
    assert sender.dropped()["lines"] == 198


def test_a_long_burst_is_logged_every_thirty_seconds(caplog):
    sender = make(flood_rate=1.0, max_queued_lines=1)
    with caplog.at_level(logging.WARNING, "univac.transports.irc"):
        one_by_one(sender, 700, 0.1)
    assert len(caplog.records) == 2  # at 30 s and at 60 s


def test_inbox_overflow_is_counted_not_logged_per_message(caplog, monkeypatch):
    from univac.transports.irc import sender as module

    monkeypatch.setattr(module, "INBOX_MAX", 10)
    sender = make()
    with caplog.at_level(logging.WARNING, "univac.transports.irc"):
        for i in range(50):
            sender.submit("#c", f"m{i}", "")
    assert caplog.records == []
    assert sender.dropped()["inbox"] == 40
    sender.drain(registered(), T0)
    sender.drops.report(T0 + 3)
    assert sender.dropped()["inbox"] == 40
    assert "40 for messages to send (inbox full)" in caplog.records[0].getMessage()


def test_more_releases_held_lines_to_whoever_asks(wire):
    sender, link = make(max_lines_per_reply=2, more_command="!more"), registered()
    sender.submit("#c", "a\nb\nc\nd", "alice")
    sender.drain(link, T0)
    assert wire.lines(sender) == ["PRIVMSG #c :a", "PRIVMSG #c :b",
                                  "PRIVMSG #c :(2 more lines: say !more)"]  # fmt: skip
    assert not sender.more(link, "#C", "hello", "bob", T0)
    assert sender.more(link, "#C", " !more ", "bob", T0)
    assert wire.lines(sender) == ["PRIVMSG #c :c", "PRIVMSG #c :d"]
    assert not sender.more(link, "#c", "!more", "bob", T0)


def test_a_new_connection_forgets_its_predecessors_control_lines_not_replies(wire):
    sender, link = make(), registered()
    sender.submit("#c", "kept", "someone")
    sender.drain(link, T0)
    sender.control(["JOIN #old"])
    sender.urgent("NICK old")
    sender.new_link()
    assert wire.lines(sender) == ["PRIVMSG #c :kept"]


# join batching ---------------------------------------------------------------


def server(**isupport: str) -> Link:
    link = registered()
    link.isupport.update(isupport)
    return link


def joined_channels(lines: list[str]) -> list[str]:
    return [name for line in lines for name in line.split(" ")[1].split(",")]


def test_join_lines_fit_512_bytes_and_name_every_channel_once():
    channels = [(f"#channel-number-{i:03d}", "") for i in range(500)]
    lines = join_lines(server(CHANLIMIT="#&+:0"), channels)
    assert all(len(line.encode()) <= 510 for line in lines)
    assert joined_channels(lines) == [name for name, _key in channels]
    assert len(lines) == 20  # "JOIN" and 25 of 20 bytes (",#channel-number-000") to a line


def test_join_lines_keep_keys_lined_up_with_their_channels():
    lines = join_lines(server(), [("#open", ""), ("#a", "ka"), ("#b", ""), ("#c", "kc")])
    assert lines == ["JOIN #a,#c,#open,#b ka,kc"]
    long_keys = [(f"#k{i}", "k" * 40) for i in range(30)]
    for line in join_lines(server(), long_keys):
        names, keys = line.split(" ")[1:]
        assert len(names.split(",")) == len(keys.split(",")) and len(line) <= 510


@pytest.mark.parametrize(("isupport", "most"), [
    ({"TARGMAX": "PRIVMSG:4,JOIN:3,NOTICE:4"}, 3),
    ({"CHANLIMIT": "#:20"}, 20),
    ({"CHANLIMIT": "#:20", "TARGMAX": "JOIN:5"}, 5),
    ({"TARGMAX": "JOIN:,PRIVMSG:4"}, 100),
    ({"CHANLIMIT": "&:2,#:7"}, 7),
])  # fmt: skip
def test_join_lines_respect_targmax_and_chanlimit(isupport, most):
    lines = join_lines(server(**isupport), [(f"#{i}", "") for i in range(100)])  # 394 bytes
    assert max(len(line.split(" ")[1].split(",")) for line in lines) == most
    assert sorted(joined_channels(lines)) == sorted(f"#{i}" for i in range(100))


def test_channels_retry_together_and_find_names_by_case_mapping():
    channels = Channels(tuple(f"#Chan{i}" for i in range(50)), timeout=15, max_delay=600)
    link = server(CASEMAPPING="rfc1459")
    first = channels.join_all(link, T0)
    assert len(first) == 1 and len(joined_channels(first)) == 50
    for i in range(45):
        channels.on_joined(link, f"#CHAN{i}")
    assert channels.due(link, T0 + 14) == []
    retry = channels.due(link, T0 + 15)
    assert joined_channels(retry) == [f"#Chan{i}" for i in range(45, 50)]
    assert channels.deadline() == T0 + 15 + 30
    channels.on_error(link, "#chan49", T0 + 16, "474 banned")
    assert channels.problems().startswith("#Chan45: no answer to JOIN")
    assert "#Chan49: 474 banned" in channels.problems()
    assert len(channels.targets()) == 45


# settings ----------------------------------------------------------------------


def test_univac_check_accepts_the_queue_settings_and_names_a_bad_one(tmp_path, capsys):
    from univac.cli import main

    table = '[[transports]]\ntype = "irc"\nhost = "irc.example.org"\nchannels = ["#ops"]\n'
    good = tmp_path / "good.toml"
    good.write_text(table + "flood_rate = 0\nmax_queued_lines = 50\nmax_queued_bytes = 1048576\n")
    assert main(["check", "--config", str(good)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(table + "max_queued_bytes = 100\n")
    assert main(["check", "--config", str(bad)]) == 1
    assert "transports[0].max_queued_bytes: must be at least 4096" in capsys.readouterr().err


def test_the_wait_for_a_pong_covers_our_lines_beyond_a_burst_since_the_last_answer(wire):
    """``pinged`` is the time a server pacing our input at ``flood_rate`` needs for the
    lines ahead of the PING beyond one burst; an answered PING confirms what went before."""
    sender, link = make(flood_rate=2.0, flood_burst=4), registered()
    sender.submit("#c", "\n".join(f"line {i}" for i in range(10)))
    start = sender.bucket.stamp
    sender.drain(link, start)
    sent = [line for step in range(20) for line in wire.lines(sender, start + step)]
    assert len(sent) == 10  # a token each, over 20 s
    sender.urgent("PING :univac-1")
    assert sender.pinged() == (10 - 4) / 2.0
    assert wire.lines(sender, start + 20) == ["PING :univac-1"]
    sender.ponged()
    sender.urgent("PING :univac-2")
    assert sender.pinged() == 0.0  # only the first PING is ahead of it: within the burst
    unpaced = make(flood_rate=0.0)
    unpaced.submit("#c", "\n".join(f"line {i}" for i in range(50)))
    unpaced.drain(link, T0)
    assert len(wire.lines(unpaced, T0)) == 50
    unpaced.urgent("PING :univac-1")
    assert unpaced.pinged() == 0.0  # without flood control the server is not pacing us
