"""The core plugins: help, echo, version, status, whereareyou."""

from __future__ import annotations

import ipaddress
import re
import time

from univac import __version__
from univac.ops.reports import LeaseReport

POLLERS = '''
"""Two pollers: one that polls every hour, one on a calendar with nothing to do."""
from univac import Skip, every


@every(3600)
def hourly(ctx):
    pass


@every("mon 08:00")
def weekly(ctx):
    return Skip("nothing yet")
'''


def test_echo_repeats_the_rest_of_the_line(univac_bot) -> None:
    bot = univac_bot("echo")
    assert bot.ask("!echo  spaced   out ") == ["spaced   out"]
    assert bot.ask("!echo") == ["missing text. Usage: !echo <text...>"]


def test_help_lists_and_explains(univac_bot) -> None:
    bot = univac_bot("help", "echo", "whereareyou")
    assert bot.ask("!help") == [
        "Commands: echo, help, whereareyou. Details: !help <command>"]
    assert bot.ask("!help echo") == ["!echo <text...> - Repeat the text back."]
    assert bot.ask("!help !where") == [
        "!whereareyou - Tell the channel the bot's host name and addresses. (also: where)"]
    assert bot.ask("!help nope") == ["No command 'nope'. !help lists them."]


def test_version(univac_bot) -> None:
    (reply,) = univac_bot("version").ask("!version")
    assert reply.startswith(f"Univac {__version__} on Python 3.")


def test_status_shows_transports_pollers_and_disabled_plugins(univac_bot, tmp_path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise ImportError('missing library')\n")
    bot = univac_bot("status", str(broken))
    assert "missing library" in bot.errors["plugins.broken"]
    lines = bot.ask("!status")
    assert lines[0].startswith("Univac ") and "up 0h 0m" in lines[0]
    assert "transport test: connected as univac in #test (fake transport)" in lines
    assert lines[-1] == "plugin errors in: plugins.broken (details in the log)"
    assert "missing library" not in " ".join(lines)


def test_status_says_whether_this_instance_leads(univac_bot) -> None:
    bot = univac_bot("status")
    assert not any(line.startswith("lease:") for line in bot.ask("!status"))
    since = time.time() - 125
    bot.bot.ha.report = lambda: LeaseReport("leader", 3, since, "epoch 3")
    assert "lease: leader with epoch 3 for 0h 2m 5s (epoch 3)" in bot.ask("!status")
def test_status_shows_real_polls_skips_and_the_next_run_briefly(univac_bot, tmp_path) -> None:
    plugin = tmp_path / "two.py"
    plugin.write_text(POLLERS, encoding="utf-8")
    bot = univac_bot("status", str(plugin))
    bot.tick("two.hourly")
    bot.tick("two.weekly")
    bot.tick("two.weekly")
    lines = {line.split(":")[0]: line for line in bot.ask("!status") if line.startswith("poller")}
    hourly, weekly = lines["poller two.hourly"], lines["poller two.weekly"]
    assert re.fullmatch(r"poller two\.hourly: 1 run, last success \d+s ago \(\d\d:\d\d:\d\d UTC\); "
                        r"next in (5\dm \d+s|1h [0-6]m) \(\d\d:\d\d:\d\d UTC\)", hourly), hourly
    assert re.fullmatch(r"poller two\.weekly: 0 runs, last success never, 2 skipped; "
                        r"next in (\d+d \d+h|\d+h \d+m|\d+m \d+s|\d+s) "
                        r"\((Mon \d\d \w+ )?08:00(:00)? UTC\)", weekly), weekly


def test_whereareyou_names_host_and_addresses(univac_bot) -> None:
    (reply,) = univac_bot("whereareyou").ask("!whereareyou")
    assert reply.startswith("I run on ")
    listed = reply.split("(")[1].rstrip(")").split(", ")
    assert all(ipaddress.ip_address(address) for address in listed)
