"""The Slack transport against the local Slack fake: Socket Mode, acknowledgements,
threads, mentions, what it ignores, escaping, rate limits, reconnects."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.integration.slack_servers import APP_TOKEN, BOT_NAME, BOT_TOKEN, BOT_USER
from tests.waiting import wait_for

pytestmark = pytest.mark.integration
UNIVAC = Path(sys.executable).parent / "univac"


def connected(bot):
    return bot.wait_status(lambda s: s.state == "connected", timeout=15)


def all_acknowledged(slack) -> bool:
    return set(slack.sent) <= set(slack.acks)


def test_answers_in_a_channel_and_acknowledges(slack, slack_bot):
    bot = slack_bot()
    status = connected(bot)
    assert status.nick == BOT_NAME and status.last_inbound is not None
    slack.user_says("!echo hi")
    message = bot.next_message()
    assert (message.transport, message.target, message.sender, message.text) == (
        "slack", "C0OPS", "alice", "!echo hi")
    assert (message.private, message.identity, message.bot_nick) == (
        False, "slack:U0ALICE", BOT_NAME)
    assert slack.wait_posts(1)[0].text == "hi"
    assert slack.messages("C0OPS") == ["hi"]
    wait_for(lambda: all_acknowledged(slack), 5, "every envelope acknowledged")


def test_direct_message_and_thread(slack, slack_bot):
    bot = slack_bot()
    connected(bot)
    slack.user_says("!echo in private", channel="D0ALICE")
    message = bot.next_message()
    assert (message.target, message.private) == ("D0ALICE", True)
    root = slack.user_says("a question")
    bot.next_message()
    slack.user_says("!echo in the thread", thread_ts=root, user="U0BOB")
    message = bot.next_message()
    assert (message.target, message.sender, message.identity) == (
        f"C0OPS/{root}", "bob", "slack:U0BOB")
    assert (message.thread, message.channel) == (root, "C0OPS")
    slack.wait_posts(2)
    assert slack.messages("D0ALICE") == ["in private"]
    assert slack.messages("C0OPS", thread_ts=root) == ["in the thread"]
    assert slack.messages("C0OPS") == []


def test_mention_addresses_the_bot_once(slack, slack_bot):
    bot = slack_bot()
    connected(bot)
    slack.mention(f"<@{BOT_USER}> echo hello <@U0BOB> see <https://example.org|example.org>")
    message = bot.next_message()
    assert message.text == f"{BOT_NAME}: echo hello @U0BOB see example.org"
    slack.user_says("marker")
    assert bot.next_message().text == "marker"
    assert bot.delivered.empty()
    wait_for(lambda: all_acknowledged(slack), 5, "every envelope acknowledged")


def test_ignores_bots_itself_edits_and_redeliveries(slack, slack_bot):
    bot = slack_bot()
    connected(bot)
    slack.user_says("!echo from a bot", user="U0BOB", bot_id="B0OTHER")
    slack.user_says("!echo from a bot", subtype="bot_message", user="U0BOB")
    slack.user_says("!echo from myself", user=BOT_USER)
    slack.push_event({"type": "message", "subtype": "message_changed", "channel": "C0OPS",
                      "hidden": True, "ts": slack.next_ts(),
                      "message": {"type": "message", "user": "U0ALICE", "text": "!echo x",
                                  "edited": {"user": "U0ALICE", "ts": "1.0"}}})
    slack.user_says("joined", subtype="channel_join")
    slack.user_says("!echo once")
    slack.push_event(slack.last_event, retry_attempt=1)  # Slack delivering it again
    assert bot.next_message().text == "!echo once"
    slack.user_says("marker")
    assert bot.next_message().text == "marker"
    assert bot.delivered.empty()
    wait_for(lambda: all_acknowledged(slack), 5, "every envelope acknowledged")


def test_outgoing_text_is_escaped_and_split(slack, slack_bot):
    bot = slack_bot(max_lines_per_reply=3)
    connected(bot)
    bot.transport.send("C0OPS", "a & b <c> <!channel>")
    bot.transport.send("C0DEV", "\n".join(f"line {n}" for n in range(10)))
    slack.wait_posts(2)
    assert slack.messages("C0OPS") == ["a &amp; b &lt;c&gt; &lt;!channel&gt;"]
    assert slack.messages("C0DEV") == ["line 0\nline 1\n[… 8 more lines not shown]"]


def test_acknowledges_at_once_while_handlers_are_slow(slack, slack_bot):
    def slow_handler(message):
        time.sleep(2)  # what a reactive thread may take; the transport's loop goes on
        bot.transport.send(message.target, "done " + message.text)

    def deliver(message):
        threading.Thread(target=slow_handler, args=(message,), daemon=True).start()

    bot = slack_bot(deliver=deliver)
    connected(bot)
    envelopes = [slack.push_event({"type": "message", "channel": "C0OPS", "user": "U0ALICE",
                                   "text": f"job {n}", "ts": slack.next_ts()})
                 for n in range(5)]
    wait_for(lambda: all_acknowledged(slack), 5, "the acknowledgements")
    delays = [slack.acks[e] - slack.sent[e] for e in envelopes]
    assert max(delays) < 1.5  # Slack's deadline is 3 s
    assert slack.posts == []  # the handlers were still at work
    slack.wait_posts(5, timeout=15)
    assert sorted(slack.messages("C0OPS")) == [f"done job {n}" for n in range(5)]


def test_rate_limit_retry_after_is_honoured(slack, slack_bot, caplog):
    bot = slack_bot()
    connected(bot)
    slack.limit_posts(2, retry_after=1)
    with caplog.at_level(logging.WARNING, logger="univac.transports.slack"):
        bot.transport.send("C0OPS", "one")
        bot.transport.send("C0OPS", "two")
        posts = slack.wait_posts(2, timeout=20)
    assert [p.text for p in posts] == ["one", "two"]
    first, second = slack.rejected_posts
    assert second - first >= 1.0 and posts[0].at - second >= 1.0  # waited as asked
    assert "rate-limited by Slack 2 times" in bot.transport.status().detail
    warnings = [r.getMessage() for r in caplog.records if "429" in r.getMessage()]
    assert len(warnings) == 1 and "Retry-After" in warnings[0]


def test_reconnects_when_slack_sends_disconnect(slack, slack_bot):
    bot = slack_bot()
    connected(bot)
    slack.user_says("!echo before")
    assert bot.next_message().text == "!echo before"
    slack.disconnect()
    wait_for(lambda: slack.opens == 2 and slack.connected() == 1, 15, "a new connection")
    status = bot.wait_status(lambda s: s.state == "connected" and s.reconnects == 1)
    assert status.reconnects == 1
    slack.user_says("!echo after")
    assert bot.next_message().text == "!echo after"
    slack.wait_posts(2)
    assert slack.messages("C0OPS") == ["before", "after"]
    wait_for(lambda: all_acknowledged(slack), 5, "every envelope acknowledged")


def test_bad_app_token_is_reported_and_retried(slack, slack_bot):
    bot = slack_bot(app_token="xapp-wrong")
    status = bot.wait_status(lambda s: "invalid_auth" in s.detail, timeout=15)
    assert status.state != "connected"
    wait_for(lambda: slack.calls["apps.connections.open"] >= 3, 15, "retries")


def test_post_to_an_unknown_channel_is_logged(slack, slack_bot, caplog):
    bot = slack_bot()
    connected(bot)
    with caplog.at_level(logging.WARNING, logger="univac.transports.slack"):
        bot.transport.send("C0NOTIN", "nobody hears this")
        bot.transport.send("C0OPS", "after")
        slack.wait_posts(1)
    assert [p.text for p in slack.posts] == ["after"]
    assert any("C0NOTIN" in r.getMessage() and "not_in_channel" in r.getMessage()
               for r in caplog.records)


def test_univac_run_on_slack(tmp_path, slack):
    config = tmp_path / "univac.toml"
    config.write_text(f"""
[bot]
plugins = ["echo"]
state_dir = "{tmp_path / 'state'}"

[[transports]]
type = "slack"
app_token_env = "TEST_SLACK_APP_TOKEN"
bot_token_file = "bot-token"
api_url = "{slack.api_url}"
""")
    (tmp_path / "bot-token").write_text(BOT_TOKEN + "\n")
    log = tmp_path / "log"
    env = {"TEST_SLACK_APP_TOKEN": APP_TOKEN, "PATH": "/usr/bin:/bin"}
    bot = subprocess.Popen([str(UNIVAC), "run", "--config", str(config)], cwd=tmp_path,
                           env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    try:
        wait_for(lambda: slack.connected() == 1, 30, "the bot's Socket Mode connection")
        wait_for(lambda: "connected to Slack" in log.read_text(), 15, "the log line")
        slack.mention(f"<@{BOT_USER}> echo over slack")
        assert slack.wait_posts(1, timeout=15)[0].text == "over slack"
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(15) == 0, log.read_text()
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
    text = log.read_text()
    assert APP_TOKEN not in text and BOT_TOKEN not in text and "Traceback" not in text
