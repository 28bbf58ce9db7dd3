"""The router hands who asked (``requester``) to transports that take it, and only to them,
with the text made safe on the same path; the ``[ha]`` term wrapper passes it on too."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.core.sample_plugins import ops
from univac.config import from_mapping
from univac.engine.bot import Bot
from univac.engine.router import Router, requester
from univac.engine.terms import Terms
from univac.logs import Masker
from univac.message import Message
from univac.ops.stats import Stats
from univac.settings import Source
from univac.transport import TransportStatus


class OldTransport:
    """A transport written before ``requester`` existed."""

    name = "old"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def run(self, deliver) -> None:
        """Nothing to run."""

    def send(self, target: str, text: str) -> None:
        self.sent.append((target, text))

    def stop(self, goodbye: str = "") -> None:
        """Nothing to stop."""

    def status(self) -> TransportStatus:
        return TransportStatus("connected")


class FairTransport(OldTransport):
    """A transport that queues output by who asked."""

    name = "fair"

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, str, str]] = []

    def send(self, target: str, text: str, requester: str = "") -> None:  # type: ignore[override]
        self.asked.append((target, text, requester))


def test_requester_reaches_only_transports_that_take_it() -> None:
    old, fair = OldTransport(), FairTransport()
    stats = Stats()
    router = Router({"old": old, "fair": fair}, stats)
    router.send("old", "#c", "hi", "account:alice")
    router.send("fair", "#c", "hi", "account:alice")
    router.send("fair", "#c", "tick")
    assert old.sent == [("#c", "hi")]
    assert fair.asked == [("#c", "hi", "account:alice"), ("#c", "tick", "")]
    assert stats.get("out:old") == 1 and stats.get("out:fair") == 2


def test_requester_is_the_identity_else_the_sender() -> None:
    assert requester(Message("irc", "#c", "bob", "!x", identity="mask:bob!b@h")) == "mask:bob!b@h"
    assert requester(Message("irc", "#c", "bob", "!x")) == "irc:bob"
    assert requester(None) == ""


def test_replies_and_says_carry_who_asked(tmp_path: Path) -> None:
    data = {"bot": {"plugins": ["echo"], "state_dir": str(tmp_path), "user_rate": 0.0},
            "transports": [{"type": "console", "name": "fair"}]}  # fmt: skip
    fair = FairTransport()
    bot = Bot(from_mapping(data, Source("<test>", Path.cwd())), transports={"fair": fair})
    try:
        message = Message("fair", "#c", "bob", "!echo hi", identity="account:bob")
        with bot.pool.batch() as batch:
            bot.dispatcher.deliver(message)
            bot.dispatcher.deliver(message._replace(text="!nosuchcommand", private=True))
        assert batch.wait(10)
        assert sorted(fair.asked) == [
            ("#c", "Unknown command 'nosuchcommand'.", "account:bob"),
            ("#c", "hi", "account:bob"),
        ]
    finally:
        bot.shutdown()


def test_text_with_a_requester_is_made_safe_too() -> None:
    fair = FairTransport()
    router = Router({"fair": fair}, Stats(), Masker(["hunter2"]))
    router.send("fair", "#c", "\x01ACTION pw hunter2\u202e\x01", "account:alice")
    assert fair.asked == [("#c", "ACTION pw ***", "account:alice")]


def test_refusals_carry_who_asked(tmp_path: Path) -> None:
    data = {"bot": {"plugins": [ops.__file__], "state_dir": str(tmp_path), "user_rate": 0.0},
            "roles": {"ops": {"fair": ["account:alice"]}},
            "transports": [{"type": "console", "name": "fair"}]}  # fmt: skip
    fair = FairTransport()
    bot = Bot(from_mapping(data, Source("<test>", Path.cwd())), transports={"fair": fair})
    try:
        with bot.pool.batch() as batch:
            bot.dispatcher.deliver(Message("fair", "#c", "eve", "!restart web",
                                           identity="mask:eve!e@h"))  # fmt: skip
        assert batch.wait(10)
        assert len(fair.asked) == 1 and fair.asked[0][2] == "mask:eve!e@h", fair.asked
    finally:
        bot.shutdown()


def test_the_term_wrapper_passes_the_requester_on() -> None:
    terms = Terms(True, threading.Event(), 5.0)
    fair, old = FairTransport(), OldTransport()
    wrapped = terms.wrap({"fair": fair, "old": old}, {})
    router = Router(wrapped, Stats())
    assert terms.begin()
    router.send("fair", "#c", "hi", "account:alice")
    router.send("old", "#c", "hi", "account:alice")
    assert fair.asked == [("#c", "hi", "account:alice")] and old.sent == [("#c", "hi")]
    terms.close()
