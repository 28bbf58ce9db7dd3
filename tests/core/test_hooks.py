"""Plugin hooks: setup returns its teardown (no module global), the old teardown() still runs."""

from __future__ import annotations

import sys
import typing
from dataclasses import dataclass
from pathlib import Path

import pytest

from univac import Context
from univac.testing import Harness

RETURNS = '''
"""Keeps a live object in setup's closure, not in a module global."""
from __future__ import annotations

from dataclasses import dataclass

from univac import Context, command

EVENTS = []


class Server:
    def __init__(self, port):
        self.port = port

    def stop(self):
        EVENTS.append(f"stopped {self.port}")


def setup(ctx):
    server = Server(ctx.config.port)
    EVENTS.append(f"started {server.port}")
    return server.stop


@command
def port(ctx: Context[Settings]) -> str:
    """Say the port."""
    return str(ctx.config.port)


@dataclass(frozen=True)
class Settings:
    port: int = 9000
'''

OLD = '''
"""The module-level teardown() of before."""
from univac import command

EVENTS = []


def teardown():
    EVENTS.append("old teardown")
    raise RuntimeError("teardown fails; the others still run")


@command
def hi(ctx):
    """Say hi."""
    return "hi"
'''


def write(folder: Path, name: str, text: str) -> str:
    path = folder / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_setup_returns_its_teardown_and_the_old_teardown_still_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bot = Harness(write(tmp_path, "returns", RETURNS), write(tmp_path, "old", OLD),
                  settings={"returns": {"port": 9100}})
    modules = {name: p.module for name, p in bot.bot.catalog.plugins.items()}
    assert modules["returns"].EVENTS == ["started 9100"]
    assert bot.ask("!port") == ["9100"]
    bot.close()
    assert modules["returns"].EVENTS == ["started 9100", "stopped 9100"]
    assert modules["old"].EVENTS == ["old teardown"]
    assert "plugin old teardown failed" in caplog.text


def test_setup_returning_something_else_disables_the_plugin(tmp_path: Path) -> None:
    text = '"""Bad setup."""\n\ndef setup(ctx):\n    return 42\n'
    with Harness(write(tmp_path, "bad", text)) as bot:
        assert "bad" not in bot.bot.catalog.plugins
        assert "setup() of 'bad' returned int" in bot.errors["plugins.bad"]


def test_a_plugin_disabled_after_its_setup_is_torn_down(tmp_path: Path) -> None:
    clash = RETURNS.replace("def port(ctx", "def echo(ctx")
    with Harness("echo", write(tmp_path, "returns", clash)) as bot:
        assert "command name clash" in bot.errors["plugins.returns"]
        assert "returns" not in bot.bot.catalog.plugins
    events = sys.modules["univac_plugin_returns"].EVENTS
    assert events == ["started 9000", "stopped 9000"]


@dataclass(frozen=True)
class Settings:
    greeting: str = "hello"


def greet(ctx: Context[Settings]) -> str:
    return ctx.config.greeting


def test_context_is_generic_over_the_plugins_settings() -> None:
    hint = typing.get_type_hints(greet)["ctx"]
    assert (typing.get_origin(hint), typing.get_args(hint)) == (Context, (Settings,))
