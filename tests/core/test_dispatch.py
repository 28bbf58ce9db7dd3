"""The dispatcher and the plugin API, driven through the test harness."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.core.sample_plugins import kit
from tests.waiting import wait_for
from univac.engine.handlers import APOLOGY
from univac.message import Message

KIT = str(Path(kit.__file__))


@pytest.fixture
def bot(univac_bot):
    return univac_bot("help", KIT, transports=("test", "other"))


def test_prefix_addressing_and_private(bot) -> None:
    assert bot.ask("!add 2 3") == ["5"]
    assert bot.ask("univac: add 2 3") == ["5"]
    assert bot.ask("UNIVAC, add 2") == ["3"]
    assert bot.ask("add 4 4", private=True) == ["8"]
    assert bot.ask("add 4 4") == []


def test_aliases_and_case_insensitive_names(bot) -> None:
    assert bot.ask("!plus 1 1") == ["2"]
    assert bot.ask("!ADD 1 1") == ["2"]


def test_signature_converts_arguments(bot) -> None:
    assert bot.ask("!pick RED yes") == ["RED"]
    assert bot.ask("!words a b  c") == ["3"]
    assert bot.ask("!words") == ["0"]
    assert bot.ask("!lines 3") == ["line 0", "line 1", "line 2"]


def test_bad_arguments_get_the_usage(bot) -> None:
    assert bot.ask("!add x") == ["a: expected int, got 'x'. Usage: !add <a> [b]"]
    assert bot.ask("!add") == ["missing a. Usage: !add <a> [b]"]
    assert bot.ask("!add 1 2 3") == ["too many arguments: '3'. Usage: !add <a> [b]"]
    assert bot.ask("!pick blue") == [
        "colour: expected one of red, green, got 'blue'. Usage: !pick <colour> [loud]"]


def test_user_error_is_the_reply(bot) -> None:
    assert bot.ask("!refuse") == ["No, not today."]


def test_handler_exception_apologises_and_logs_the_traceback(bot, caplog) -> None:
    with caplog.at_level(logging.ERROR):
        replies = bot.ask("!boom")
    assert replies == [APOLOGY]
    assert "hunter2" not in APOLOGY
    assert "hunter2-secret-token" in caplog.text
    assert "Traceback" in caplog.text


def test_unknown_commands_answer_only_when_spoken_to(bot) -> None:
    assert bot.ask("!nosuch") == []
    assert bot.ask("univac: nosuch") == ["Unknown command 'nosuch'. Try !help."]
    assert bot.ask("nosuch", private=True) == ["Unknown command 'nosuch'. Try !help."]


def test_never_reacts_to_its_own_messages(bot) -> None:
    assert bot.ask("!add 1 1", sender="univac") == []
    assert bot.ask("ticket-5", sender="UniVac") == []


def test_matchers_see_plain_messages_only(bot) -> None:
    assert bot.ask("see ticket-42 please") == ["Ticket 42"]
    assert bot.ask("!add 1 ticket-3") != ["Ticket 3"]


def test_a_matcher_gets_every_match_and_the_old_form_the_first(bot) -> None:
    assert bot.ask("ticket-42 dup of ticket-7, see ticket-42") == [
        "Ticket 42", "Ticket 7", "Ticket 42"]
    assert bot.ask("bug-1 and bug-2") == ["Bug 1"]


def test_message_identity_transport_and_private(bot) -> None:
    assert bot.ask("who", private=True, sender="al", identity="account:al") == [
        "al account:al test True"]


def test_state_persists_across_restarts(univac_bot, tmp_path: Path) -> None:
    first = univac_bot(KIT, state_dir=tmp_path)
    assert first.ask("!count") == ["1"]
    assert first.ask("!count") == ["2"]
    first.close()
    second = univac_bot(KIT, state_dir=tmp_path)
    assert second.ask("!count") == ["3"]


def test_say_reaches_another_transport(bot) -> None:
    assert bot.ask("!announce deploy done") == []
    assert bot.said() == [("other:#ops", "deploy done")]


def test_poller_tick_uses_the_given_clock(bot) -> None:
    said = bot.tick("kit.tick", now=datetime(2024, 2, 29, tzinfo=UTC))
    assert said == [("test:#ops", "tick at 2024-02-29")]


def test_rate_limit_per_user_is_quiet(univac_bot) -> None:
    bot = univac_bot(KIT, bot={"user_rate": 0.001, "user_burst": 2})
    assert bot.ask("!add 1 1", sender="a") == ["2"]
    assert bot.ask("!add 1 1", sender="a") == ["2"]
    assert bot.ask("!add 1 1", sender="a") == []
    assert bot.ask("!add 1 1", sender="b") == ["2"]
    assert bot.bot.stats.get("rate_limited") == 1


def test_overflow_is_shed_and_counted(univac_bot) -> None:
    bot = univac_bot(KIT, bot={"max_reactive": 1, "queue_size": 1})
    gate = bot.bot.catalog.plugins["kit"].module.gate
    gate.clear()
    deliver = bot.bot.dispatcher.deliver
    for number in range(5):
        deliver(Message("test", "#t", f"u{number}", "!wait", identity=f"u{number}"))
    assert bot.bot.stats.get("shed") == 3
    assert wait_for(lambda: bot.bot.pool.load() == (1, 1, 1))
    gate.set()
    bot.wait()
    assert [text for _, text in bot.said()] == ["done", "done"]


def test_a_broken_plugin_is_disabled_and_the_others_run(univac_bot, tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("from univac import command\n"
                      "def setup(ctx):\n    raise RuntimeError('no database')\n"
                      "@command\ndef x(ctx):\n    return 'x'\n")
    bot = univac_bot("echo", str(broken))
    assert "plugins.broken" in bot.errors
    assert bot.ask("!echo still here") == ["still here"]
    assert bot.ask("!x") == []


def test_command_name_clash_disables_the_later_plugin(univac_bot, tmp_path: Path) -> None:
    clash = tmp_path / "clash.py"
    clash.write_text("from univac import command\n@command('echo')\ndef e(ctx):\n    return 'no'\n")
    bot = univac_bot("echo", str(clash))
    assert "clash" in " ".join(bot.errors)
    assert bot.ask("!echo yes") == ["yes"]
