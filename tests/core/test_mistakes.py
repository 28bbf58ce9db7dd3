"""Ordinary mistakes in chat and in plugin tests: hints, bounded refusal records, load
errors that fail the test with their reason, the host's own name."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.core.sample_plugins import kit, ops
from univac.errors import PluginError
from univac.host import HostInfo
from univac.message import Message
from univac.ops.audit import REFUSAL_WINDOW_S, AuditLog

KIT = str(Path(kit.__file__))
OPS = str(Path(ops.__file__))
HINT = "A command is a name after !, such as !help."


def test_a_bare_prefix_gets_a_hint_in_private_and_when_addressed(univac_bot) -> None:
    bot = univac_bot("help", KIT)
    assert bot.ask("!", private=True) == [HINT]
    assert bot.ask("!!add 1 2", private=True) == [HINT]
    assert bot.ask("univac: !") == [HINT]
    assert bot.ask("univac, !!x") == [HINT]
    assert bot.ask("univac: !add 1 2") == ["3"]  # the prefix is allowed when addressed
    assert bot.ask("univac:") == []


def test_a_bare_prefix_in_a_channel_stays_silent(univac_bot) -> None:
    bot = univac_bot("help", KIT)
    assert bot.ask("!") == []
    assert bot.ask("!!") == []
    assert bot.ask("!!x") == []
    assert bot.ask("! ticket-7") == ["Ticket 7"]  # still offered to the matchers


def test_without_help_the_hint_names_no_command(univac_bot) -> None:
    assert univac_bot(KIT).ask("!", private=True) == ["A command is a name after !."]


def audit(folder: Path) -> list[dict]:
    lines = (folder / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_rate_limits_come_before_the_audit_of_refusals(univac_bot, tmp_path: Path) -> None:
    roles = {"ops": {"test": ["account:alice"]}}
    bot = univac_bot(OPS, roles=roles, state_dir=tmp_path,
                     bot={"user_rate": 0.001, "user_burst": 3, "rate_exempt": []})
    replies = [bot.ask("!restart web", sender="mallory", identity="mask:m!m@x")
               for _ in range(50)]
    assert sum(1 for r in replies if r) == 3  # three answered, the rest over the limit
    bot.close()
    records = [r for r in audit(tmp_path) if r["outcome"] == "refused"]
    assert len(records) == 2, records
    assert records[0]["identity"] == "mask:m!m@x" and "repeated" not in records[0]
    assert records[1]["repeated"] == 2 and records[1]["command"] == "ops.restart"


def test_repeated_refusals_are_one_record_per_sender_and_command_per_window(
    tmp_path: Path,
) -> None:
    now = [1000.0]
    log = AuditLog(tmp_path / "audit.jsonl", clock=lambda: now[0])
    mallory = Message("irc", "#ops", "mallory", "!restart", identity="mask:m!m@x")
    eve = Message("irc", "#ops", "eve", "!restart", identity="mask:e!e@x")
    for _ in range(5000):
        log.refused(mallory, "ops.restart", "You may not run restart.")
    log.refused(eve, "ops.restart", "You may not run restart.")
    log.refused(mallory, "ops.wipe", "You may not run wipe.")
    assert len(audit(tmp_path)) == 3
    now[0] += REFUSAL_WINDOW_S + 1
    log.refused(mallory, "ops.restart", "You may not run restart.")
    records = audit(tmp_path)
    assert [(r["sender"], r["command"], r.get("repeated")) for r in records] == [
        ("mallory", "ops.restart", None), ("eve", "ops.restart", None),
        ("mallory", "ops.wipe", None), ("mallory", "ops.restart", 4999),
        ("mallory", "ops.restart", None)]
    assert records[3]["last"] >= records[0]["time"]
    log.close()
    assert len(audit(tmp_path)) == 5  # nothing was left to count


@pytest.mark.parametrize(("source", "expected"), [
    ("from univac import command\n@command\ndef x(ctx)\n    return 'x'\n", "SyntaxError"),
    (None, "cannot read plugin file"),
])
def test_a_plugin_that_cannot_load_fails_the_test_with_its_reason(
    univac_bot, tmp_path: Path, source: str | None, expected: str
) -> None:
    path = tmp_path / "greet.py"
    if source is not None:
        path.write_text(source, encoding="utf-8")
    bot = univac_bot(str(path))
    with pytest.raises(PluginError, match=expected) as caught:
        bot.ask("!x")
    assert "plugins.greet" in str(caught.value) or "bot.plugins" in str(caught.value)
    with pytest.raises(PluginError, match=expected):
        bot.tick("greet")


def test_a_bad_setting_fails_the_test_with_its_key_and_reason(univac_bot) -> None:
    bot = univac_bot("hooks", settings={"hooks": {"targets": ["irk:#x"], "max_alerts": 0}})
    with pytest.raises(PluginError, match=r"plugins.hooks: max_alerts must be at least 1"):
        bot.ask("!help")


def test_reading_the_errors_says_the_test_expects_them(univac_bot, tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('no database')\n")
    bot = univac_bot("echo", str(tmp_path / "broken.py"))
    assert "no database" in bot.errors["plugins.broken"]
    assert bot.ask("!echo still here") == ["still here"]


def test_the_host_name_is_the_machines_own_not_a_localhost_alias(monkeypatch) -> None:
    monkeypatch.setattr(socket, "getfqdn", lambda *args: "localhost")
    monkeypatch.setattr(socket, "gethostname", lambda: "build-7")
    assert HostInfo().name == "build-7"
