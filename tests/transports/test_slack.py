"""Unit tests of the Slack transport: settings (and their reference in docs/slack.md),
the inbound filter and text, escaping and splitting, de-duplication, the failure log.
The Socket Mode tests against the local Slack fake are in tests/integration."""

from __future__ import annotations

import logging
import re

import pytest

from tests.core.test_access import tell
from tests.transports.settings_docs import docs_table, expected_rows
from univac import FailureLog
from univac.transports import slack
from univac.transports.slack import inbound, outbound
from univac.transports.slack.inbound import Me
from univac.transports.slack.session import reconnect_backoff
from univac.transports.slack.support import LibraryEcho

ME = Me("U0BOT", "univac")
BASE = {"app_token": "xapp-1-x", "bot_token": "xoxb-1-x"}


def event(text="!help", **extra):
    return {"type": "message", "channel": "C1", "user": "U1", "text": text,
            "ts": "1700000000.000100", "channel_type": "channel", **extra}


def message(evt):
    return inbound.to_message(evt, ME, "slack", "alice")


# -- settings ---------------------------------------------------------------------

def test_settings_need_two_tokens():
    settings = slack.Settings(**BASE)
    assert settings.api_url == "https://slack.com/api/"
    assert slack.create("s", settings).name == "s"


@pytest.mark.parametrize(("overrides", "error"), [
    ({"app_token": "xoxb-1-x"}, "app_token: an app-level token starts with xapp-"),
    ({"bot_token": "xapp-1-x"}, "bot_token: a bot token starts with xoxb-"),
    ({"api_url": "slack.com"}, "api_url: 'slack.com' is not a URL"),
    ({"api_url": "http://slack.example.org/api/"}, "plain http is allowed on loopback only"),
    ({"max_lines_per_reply": -1}, "max_lines_per_reply"),
    ({"ping_interval_s": 0.0}, "ping_interval_s"),
    ({"reconnect_max_s": -1.0}, "reconnect_max_s: must be 0 or more"),
])
def test_bad_settings_are_refused_with_the_setting_named(overrides, error):
    with pytest.raises(ValueError, match=re.escape(error)):
        slack.Settings(**{**BASE, **overrides})


def test_the_settings_table_in_the_docs_is_the_settings_dataclass():
    assert docs_table("slack.md") == expected_rows(slack.Settings)


def test_reconnect_delays_grow_and_start_again_after_a_healthy_connection():
    backoff = reconnect_backoff(slack.Settings(**BASE, reconnect_min_s=1.0,
                                               reconnect_max_s=8.0))
    delays = [backoff.failed(now=0.0) for _ in range(5)]
    assert delays[0] <= 1.0 and 4.0 <= delays[3] <= 8.0 and 4.0 <= delays[4] <= 8.0
    backoff.started(at=100.0)
    assert backoff.failed(now=159.0) >= 4.0  # up for less than healthy_after_s (60 s)
    backoff.started(at=200.0)
    assert backoff.failed(now=260.0) <= 1.0  # a healthy connection: the first delay again
    assert reconnect_backoff(slack.Settings(**BASE, reconnect_min_s=0.0)).failed() > 0


# -- inbound -------------------------------------------------------------------

def test_a_message_becomes_a_message_with_the_user_id_as_identity():
    assert message(event("!echo hi")) == (
        "slack", "C1", "alice", "!echo hi", False, "slack:U1", "univac", "")
    assert message(event(channel="D1", channel_type="im")).private is True
    broadcast = message(event(subtype="thread_broadcast", thread_ts="1.5"))
    assert (broadcast.target, broadcast.thread, broadcast.channel) == ("C1/1.5", "1.5", "C1")


def test_a_thread_is_in_its_channel_for_access_rules(univac_bot):
    bot = univac_bot("echo", transports=("slack",), access={"echo": {"channels": ["C1"]}})
    assert tell(bot, message(event("!echo x", thread_ts="1.5"))) == [("C1/1.5", "x")]
    elsewhere = message(event("!echo x", channel="C2", thread_ts="1.5"))
    assert tell(bot, elsewhere) == [("C2/1.5", "echo only works in C1.")]


@pytest.mark.parametrize("evt", [
    event(bot_id="B1"),
    event(subtype="bot_message"),
    event(user="U0BOT"),
    event(subtype="message_changed"),
    event(subtype="message_deleted"),
    event(subtype="channel_join"),
    {**event(), "type": "reaction_added"},
    {k: v for k, v in event().items() if k != "user"},
    event("   "),
], ids=["bot_id", "bot_message", "itself", "edit", "deletion", "join", "reaction",
        "no user", "blank"])
def test_never_acted_on(evt):
    assert message(evt) is None


def test_markup_turns_back_into_what_the_user_typed():
    text = ("<@U0BOT> dns <http://example.org|example.org> for <@U2> in <#C9|ops> "
            "<!here> <https://a.example/x?y=1&amp;z=2> a &lt;b&gt; &amp; c")
    assert inbound.plain_text(text, ME) == (
        "univac: dns example.org for @U2 in #ops @here https://a.example/x?y=1&z=2 "
        "a <b> & c")
    assert inbound.plain_text("hi <@U0BOT>", ME) == "hi @U0BOT"


def test_each_message_is_acted_on_once():
    seen = inbound.Seen(size=2)
    first, second, third = (event(ts=f"{n}.0") for n in range(3))
    assert seen.first_time(first) and not seen.first_time(first)
    assert seen.first_time(second) and seen.first_time(third)
    assert seen.first_time(first)  # forgotten: only the last `size` are kept


# -- outbound --------------------------------------------------------------------

def test_ampersand_and_angle_brackets_are_escaped():
    assert outbound.escape("a & <@U1> <!channel>") == "a &amp; &lt;@U1&gt; &lt;!channel&gt;"
    assert outbound.pieces("x < y", 0) == ["x &lt; y"]
    assert outbound.split_target("C1/1700.1") == ("C1", "1700.1")
    assert outbound.split_target("D1") == ("D1", "")


def test_replies_are_cut_and_split_without_breaking_an_entity():
    assert outbound.pieces("\n".join("abcdefghij"), 4) == ["a\nb\nc\n[… 7 more lines not shown]"]
    lines = [f"{n:04d} " + "y" * 95 for n in range(100)]  # 100 lines of 100 characters
    parts = outbound.pieces("\n".join(lines), 0)
    assert all(len(p) <= outbound.MAX_CHARS for p in parts) and len(parts) == 3
    assert "\n".join(parts) == "\n".join(lines)
    long = outbound.pieces("&" * 5000, 0)
    assert all(len(p) <= outbound.MAX_CHARS for p in long)
    assert all(re.fullmatch("(&amp;)+", p) for p in long)
    assert "".join(long) == "&amp;" * 5000
    assert outbound.pieces(" \n \n", 0) == []


def test_failure_log_repeats_a_failure_once_a_minute_and_counts_the_rest(caplog):
    now = [0.0]
    failures = FailureLog(logging.getLogger("t"), "slack", clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            failures.ended("Slack refused: invalid_auth", 1.0, dropped=False)
        now[0] = 61.0
        failures.ended("Slack refused: invalid_auth", 2.0, dropped=False)
    assert [r.getMessage() for r in caplog.records] == [
        "slack: Slack refused: invalid_auth; reconnecting in 1.0 s",
        "slack: Slack refused: invalid_auth (2 more since the last report); reconnecting in 2.0 s"]
    assert failures.connected() == 4 and failures.connected() == 0


def test_the_sdks_repeated_lines_are_shown_once_a_minute_without_tracebacks(caplog):
    now = [0.0]
    echo = LibraryEcho(clock=lambda: now[0])
    sdk = logging.getLogger("univac.transports.slack.socket.test")
    sdk.addFilter(echo)
    try:
        with caplog.at_level(logging.INFO, logger="univac.transports.slack.socket.test"):
            sdk.info("A new session has been established")
            for _ in range(3):
                try:
                    raise OSError("refused")
                except OSError:
                    sdk.exception("Failed to connect (error: refused); Retrying...")
            now[0] = 61.0
            sdk.error("Failed to connect (error: refused); Retrying...")
    finally:
        sdk.removeFilter(echo)
    assert [r.getMessage() for r in caplog.records] == [
        "Failed to connect (error: refused); Retrying..."] * 2
    assert "Traceback" not in caplog.text


def test_an_unexpected_error_ends_run_with_it_for_the_supervisor(monkeypatch):
    from univac.transports.slack import session

    async def broken(self):
        raise KeyError("a bug")

    monkeypatch.setattr(session.Session, "_connect_forever", broken)
    transport = slack.create("s", slack.Settings(**BASE))
    with pytest.raises(KeyError, match="a bug"):
        transport.run(lambda m: None)
    assert transport.status().state == "stopped"
