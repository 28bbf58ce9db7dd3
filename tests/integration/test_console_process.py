"""The real ``univac`` process on the console transport: commands, pipes, signals, crashes."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.integration.botprocess import BotProcess, univac_command

CONFIG = """\
[bot]
plugins = ["help", "echo", "status"]
state_dir = "state"

[[transports]]
type = "console"
user = "operator"
user_env = "UNUSED_SETTING"
"""


def config(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "univac.toml"
    path.write_text(text.replace('user_env = "UNUSED_SETTING"\n', ""), encoding="utf-8")
    return path


def test_commands_through_stdin_get_replies_on_stdout(tmp_path: Path) -> None:
    bot = BotProcess("--config", str(config(tmp_path)))
    bot.send("!echo hello there")
    assert bot.expect() == ["hello there"]
    bot.send("help echo")
    assert bot.expect() == ["!echo <text...> - Repeat the text back."]
    bot.send("univac: nosuch")
    assert bot.expect() == ["Unknown command 'nosuch'. Try !help."]
    assert bot.finish() == 0
    assert "univac stopped" in bot.stderr


def test_a_hash_line_is_channel_chat_in_that_room(tmp_path: Path) -> None:
    bot = BotProcess("--config", str(config(tmp_path)))
    bot.send("#ops !echo in the room")
    assert bot.expect() == ["[#ops] in the room"]
    bot.send("#ops echo no prefix, no command")  # channel chat needs the prefix
    bot.send("!echo private again")
    assert bot.expect() == ["private again"]
    assert bot.finish() == 0


def test_piped_input_is_answered_then_the_bot_exits(tmp_path: Path) -> None:
    done = subprocess.run(
        [*univac_command(), "--config", str(config(tmp_path))],
        input="!echo one\n!echo two\n!help\n", capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 0
    assert sorted(done.stdout.splitlines()) == [
        "Commands: echo, help, status. Details: !help <command>", "one", "two"]
    assert "[MainThread]" in done.stderr


def test_no_config_runs_the_console_with_the_core_plugins(tmp_path: Path) -> None:
    done = subprocess.run(
        univac_command(), input="!help\n", capture_output=True, text=True, timeout=30,
        cwd=tmp_path, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0
    assert done.stdout == (
        "Commands: echo, help, status, version, whereareyou. Details: !help <command>\n")


def test_sigterm_stops_the_bot_with_exit_code_zero(tmp_path: Path) -> None:
    bot = BotProcess("--config", str(config(tmp_path)))
    bot.send("!echo ready")
    assert bot.expect() == ["ready"]
    started = time.monotonic()
    bot.process.send_signal(signal.SIGTERM)
    assert bot.finish(timeout=10, close_stdin=False) == 0
    assert time.monotonic() - started < 5
    assert "univac stopped" in bot.stderr


def test_invalid_config_exits_one_with_every_error(tmp_path: Path) -> None:
    path = config(tmp_path, "[bot]\nprefx = '!'\n[[transports]]\ntype = 'ircc'\n")
    done = subprocess.run([*univac_command(), "--config", str(path)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "bot.prefx: unknown setting; did you mean 'prefix'?" in done.stderr
    assert "transports[0].type: transport unknown name 'ircc'" in done.stderr


def test_a_transport_that_keeps_crashing_ends_the_process_non_zero(tmp_path: Path) -> None:
    crashy = tmp_path / "crashy.py"
    crashy.write_text(
        "from dataclasses import dataclass\n"
        "@dataclass(frozen=True)\nclass Settings:\n    password: str = ''\n"
        "class Crashy:\n    name = 'crashy'\n"
        "    def __init__(self, settings): self.settings = settings\n"
        "    def run(self, deliver): raise RuntimeError('lost ' + self.settings.password)\n"
        "    def send(self, target, text): pass\n"
        "    def stop(self, goodbye=''): pass\n"
        "    def status(self): return None\n"
        "def create(name, settings): return Crashy(settings)\n"
    )
    path = config(tmp_path, f"[bot]\nmax_crashes = 1\nplugins = ['echo']\n"
                            f"[[transports]]\ntype = '{crashy}'\npassword = 'pa55word'\n")
    bot = BotProcess("--config", str(path))
    assert bot.finish(timeout=20, close_stdin=False) == 3
    assert "giving up" in bot.stderr
    assert "lost ***" in bot.stderr
    assert "pa55word" not in bot.stderr
