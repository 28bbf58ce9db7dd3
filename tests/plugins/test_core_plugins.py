"""The core plugins: help, echo, version, status, whereareyou."""

from __future__ import annotations

import ipaddress
import time

from univac import __version__
from univac.ops.reports import LeaseReport


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


def test_whereareyou_names_host_and_addresses(univac_bot) -> None:
    (reply,) = univac_bot("whereareyou").ask("!whereareyou")
    assert reply.startswith("I run on ")
    listed = reply.split("(")[1].rstrip(")").split(", ")
    assert all(ipaddress.ip_address(address) for address in listed)
