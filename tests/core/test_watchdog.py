"""The watchdog's pieces: reasons, backoff, the crash budget, the notify socket, the CLI."""

from __future__ import annotations

import os
import signal
from types import SimpleNamespace
from typing import Any, cast

import pytest

from univac.cli import _parser
from univac.ops.sdnotify import Notifier, NotifyServer
from univac.ops.watchdog import Child, CrashBudget, Policy, Watchdog, describe


def test_reasons_name_the_exit_code_or_the_signal() -> None:
    assert describe(0) == "exited with code 0"
    assert describe(3) == (
        "exited with code 3 (the supervisor gave up after repeated thread crashes)")
    assert describe(1) == "exited with code 1 (invalid configuration)"
    assert describe(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe(-200) == "killed by signal 200"


def test_restart_delays_double_and_reset_once_the_bot_ran_ready_long_enough() -> None:
    dog = Watchdog(["true"], Policy(backoff_s=(1.0, 10.0), healthy_after_s=60.0))
    try:
        child = Child(process=cast(Any, SimpleNamespace(pid=4242)), started=1000.0)
        assert [dog.backoff.failed(1000.0 + n) for n in range(5)] == [1, 2, 4, 8, 10]
        dog._heard(child, {"READY": "1"})  # ready: healthy counts from its start
        assert dog.backoff.failed(1000.0 + 30) == 10  # not long enough
        dog._heard(Child(process=child.process, started=2000.0), {"READY": "1"})
        assert dog.backoff.failed(2000.0 + 60) == 1  # healthy for 60 s: from the start
    finally:
        dog.server.close()
        dog.signals.close()


def test_the_crash_budget_counts_within_a_sliding_window() -> None:
    budget = CrashBudget(max_crashes=2, window_s=60.0)
    assert not budget.record(0.0)
    assert not budget.record(10.0)
    assert budget.record(20.0)
    fresh = CrashBudget(max_crashes=2, window_s=60.0)
    assert not fresh.record(0.0)
    assert not fresh.record(50.0)
    assert not fresh.record(100.0)
    assert fresh.count == 2


def test_the_notify_socket_keeps_only_the_bots_own_datagrams() -> None:
    server = NotifyServer()
    try:
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": server.address}, unset=False)
        assert notifier.send("READY=1", "STATUS=up")
        assert server.receive(os.getpid()) == [{"READY": "1", "STATUS": "up"}]
        assert notifier.send("WATCHDOG=1")
        assert server.receive(os.getpid() + 1) == []
        assert server.receive(os.getpid()) == []
        notifier.close()
    finally:
        server.close()
    assert not os.path.exists(server.address)


def test_the_command_line_after_double_dash_is_the_child() -> None:
    args = _parser().parse_args(
        ["watchdog", "--max-crashes", "2", "--hang-timeout", "0", "--",
         "univac", "--config", "bot.toml"])
    assert args.child == ["univac", "--config", "bot.toml"]
    assert (args.max_crashes, args.hang_timeout, args.window) == (2, 0.0, 600.0)


def test_negative_limits_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        _parser().parse_args(["watchdog", "--window", "-1"])
    assert stopped.value.code == 2
    assert "-1 is negative" in capsys.readouterr().err
