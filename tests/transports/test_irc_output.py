"""Scripted output tests: splitting, injection, flood control, the more continuation."""

from __future__ import annotations

import time

from univac.transports.irc.lines import split_text, text_budget
from univac.transports.irc.output import TokenBucket

MASK = b"univac!~univac@very.long.hostname.example.org"


def joined(irc_fake, irc_bot, **options):
    server = irc_fake()
    bot = irc_bot(server.port, **options)
    client = server.accept()
    client.register()
    client.send(b":" + MASK + b" JOIN #c\r\n")
    client.send(b"PING :ready\r\n")
    client.expect(b"PONG :ready\r\n")
    return bot, client


def test_long_text_split_by_utf8_budget_counting_prefix(irc_fake, irc_bot):
    bot, client = joined(irc_fake, irc_bot, flood_rate=0)
    text = "\u00e9t\u00e9 " * 150 + "\U0001f600" * 200
    bot.transport.send("#c", text)
    parts = []
    while sum(len(p) for p in parts) < len(text.replace(" ", "")) - 10:
        line = client.expect_prefix(b"PRIVMSG #c :")
        assert len(b":" + MASK + b" " + line) <= 512
        parts.append(line[len(b"PRIVMSG #c :") : -2].decode("utf-8").replace(" ", ""))
    assert "".join(parts) == text.replace(" ", "")
    assert len(parts) >= 3


def test_newlines_split_and_no_injection(irc_fake, irc_bot):
    bot, client = joined(irc_fake, irc_bot, flood_rate=0)
    bot.transport.send("#c", "one\ntwo\r\nthree\rQUIT :pwned\0NUL")
    assert client.line() == b"PRIVMSG #c :one\r\n"
    assert client.line() == b"PRIVMSG #c :two\r\n"
    assert client.line() == b"PRIVMSG #c :three\r\n"
    assert client.line() == b"PRIVMSG #c :QUIT :pwnedNUL\r\n"
    bot.transport.send("#c\r\nQUIT :x", "hi")
    assert client.line() == b"PRIVMSG #cQUIT:x :hi\r\n"


def test_flood_control_paces_but_pong_is_immediate(irc_fake, irc_bot):
    bot, client = joined(irc_fake, irc_bot, flood_burst=2, flood_rate=5)
    for i in range(6):
        bot.transport.send("#c", f"line {i}")
    started = time.monotonic()
    assert client.line() == b"PRIVMSG #c :line 0\r\n"
    assert client.line() == b"PRIVMSG #c :line 1\r\n"
    client.send(b"PING :urgent\r\n")
    assert client.line() == b"PONG :urgent\r\n"
    for i in range(2, 6):
        assert client.line() == f"PRIVMSG #c :line {i}\r\n".encode()
    elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 2.0


def test_targets_take_turns(irc_fake, irc_bot):
    bot, client = joined(irc_fake, irc_bot, flood_burst=1, flood_rate=50)
    for i in range(20):
        bot.transport.send("#c", f"flood {i}")
    bot.transport.send("bob", "your answer")
    lines = [client.line() for _ in range(5)]
    assert b"PRIVMSG bob :your answer\r\n" in lines


def test_reply_line_cap_with_more(irc_fake, irc_bot):
    bot, client = joined(irc_fake, irc_bot, flood_rate=0, max_lines_per_reply=2)
    bot.transport.send("#c", "a\nb\nc\nd")
    assert client.line() == b"PRIVMSG #c :a\r\n"
    assert client.line() == b"PRIVMSG #c :b\r\n"
    assert client.line() == b"PRIVMSG #c :(2 more lines: say !more)\r\n"
    client.send(b":alice!a@h PRIVMSG #c :!more\r\n")
    assert client.line() == b"PRIVMSG #c :c\r\n"
    assert client.line() == b"PRIVMSG #c :d\r\n"
    bot.no_message()


def test_queue_per_target_is_bounded(irc_fake, irc_bot):
    bot, client = joined(irc_fake, irc_bot, flood_burst=1, flood_rate=20, max_queued_lines=3)
    bot.transport.send("#c", "\n".join(f"l{i}" for i in range(10)))
    got = [client.line() for _ in range(3)]
    assert got == [b"PRIVMSG #c :l7\r\n", b"PRIVMSG #c :l8\r\n", b"PRIVMSG #c :l9\r\n"]
    client.send(b"PING :end\r\n")
    assert client.line() == b"PONG :end\r\n"


def test_split_text_unit_properties():
    budget = text_budget("PRIVMSG", "#c", "n!u@h")
    assert budget == 512 - len(":n!u@h PRIVMSG #c :\r\n")
    chunks = split_text("\u00e9" * 1000, 17)
    assert all(len(c.encode()) <= 17 for c in chunks)
    assert "".join(chunks) == "\u00e9" * 1000
    assert split_text("a\n\n\nb", 100) == ["a", "b"]


def test_token_bucket_unit():
    bucket = TokenBucket(2, 1.0, now=0.0)
    assert bucket.take(0.0) and bucket.take(0.0) and not bucket.take(0.0)
    assert 0.9 < bucket.wait(0.05) <= 1.0
    assert bucket.take(1.1)
    assert TokenBucket(1, 0, now=0.0).take(0.0)


def test_a_wake_up_during_clearing_is_never_lost(monkeypatch):
    """Another thread's wake-up that lands while the I/O thread empties the pipe must
    leave either the flag down or a byte in the pipe; otherwise later replies wait."""
    import os

    from univac.transports.irc import sender as irc_sender

    sender = irc_sender.Sender("irc-unit", flood_burst=8, flood_rate=1.0,
                               max_queued_lines=200, max_queued_bytes=1 << 20)  # fmt: skip
    sender.wake()  # a wake-up is pending: flag up, one byte in the pipe
    real_read = os.read
    raced = []

    def read_with_a_racing_wakeup(fd: int, size: int) -> bytes:
        if not raced:
            raced.append(True)
            sender.wake()  # a reactive thread queues a reply right now
        return real_read(fd, size)

    monkeypatch.setattr(irc_sender.os, "read", read_with_a_racing_wakeup)
    sender.clear_wake()
    monkeypatch.setattr(irc_sender.os, "read", real_read)
    try:
        pending = real_read(sender.wake_fd, 4096)
    except BlockingIOError:
        pending = b""
    assert not sender._woken or pending, "flag up with an empty pipe: wake-ups are lost"
    sender.wake()
    assert real_read(sender.wake_fd, 4096) == b"x"
