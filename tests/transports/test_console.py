"""The console transport's reading of a line: private chat, or channel chat in ``#room``."""

from __future__ import annotations

import io
import os

from univac import Message
from univac.transports.console import ConsoleTransport, Settings, channel_line


def test_channel_line_splits_a_room_from_its_text() -> None:
    assert channel_line("#ops look at xkcd.com/927") == ("#ops", "look at xkcd.com/927")
    assert channel_line("#ops") == ("", "#ops")
    assert channel_line("# spaced") == ("", "# spaced")
    assert channel_line("#ops   ") == ("", "#ops   ")
    assert channel_line("help") == ("", "help")


def test_a_room_line_is_delivered_as_channel_chat_and_a_plain_line_privately() -> None:
    read, write = os.pipe()
    os.write(write, b"#ops hello\nhelp\n")
    os.close(write)
    got: list[Message] = []
    console = ConsoleTransport("console", Settings(user="ada"), read, io.StringIO())
    console.run(got.append)
    os.close(read)
    assert [(m.target, m.private, m.text) for m in got] == [
        ("#ops", False, "hello"), ("ada", True, "help")]
    assert {m.identity for m in got} == {"console:ada"}
