"""``univac watchdog`` with real bot processes: clean exit, crashes, kills, hangs, signals."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.integration.botprocess import univac_command
from tests.integration.test_systemd_notify import controlled_config
from tests.waiting import wait_for

FAST = ["--backoff-min", "0.05", "--backoff-max", "0.2"]


class WatchdogProcess:
    """``univac watchdog ... -- univac --config FILE``; its stderr lines are collected."""

    def __init__(self, config: Path | None, *options: str, child: tuple[str, ...] = ()) -> None:
        child = child or (*univac_command(), "--config", str(config))
        command = [*univac_command(), "watchdog", *options, "--", *child]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """The first stderr line from now on that matches ``pattern``."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"no line matching {pattern!r} in {timeout} s:\n"
                             + "\n".join(self.seen))

    def ready_pid(self) -> int:
        return int(self.wait_for(r"the bot \(pid (\d+)\) is ready").group(1))

    def finish(self, timeout: float = 10.0) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code


@pytest.fixture
def cleanup() -> list[WatchdogProcess]:
    started: list[WatchdogProcess] = []
    yield started
    for watchdog in started:
        if watchdog.process.poll() is None:
            watchdog.process.kill()
            watchdog.process.wait(5)


def test_a_clean_exit_ends_the_watchdog_and_the_child_never_gets_its_stdin(
    tmp_path: Path, cleanup: list[WatchdogProcess]
) -> None:
    config = tmp_path / "univac.toml"
    config.write_text('[bot]\nplugins = ["echo"]\nstate_dir = "state"\n'
                      '[[transports]]\ntype = "console"\nuser = "operator"\n')
    watchdog = WatchdogProcess(config, *FAST)
    cleanup.append(watchdog)
    # Our end of the watchdog's stdin stays open: only /dev/null lets the console finish.
    watchdog.wait_for("every transport has finished")
    watchdog.wait_for("the bot exited cleanly; the watchdog ends")
    assert watchdog.finish() == 0
    assert watchdog.process.stdout is not None and watchdog.process.stdout.read() == ""


def test_a_crash_loop_is_restarted_with_reasons_then_given_up(
    tmp_path: Path, cleanup: list[WatchdogProcess]
) -> None:
    crashy = tmp_path / "crashy.py"
    crashy.write_text(
        "from dataclasses import dataclass\n"
        "@dataclass(frozen=True)\nclass Settings:\n    pass\n"
        "class Crashy:\n    name = 'crashy'\n"
        "    def run(self, deliver): raise RuntimeError('no link')\n"
        "    def send(self, target, text): pass\n"
        "    def stop(self, goodbye=''): pass\n"
        "    def status(self): return None\n"
        "def create(name, settings): return Crashy()\n")
    config = tmp_path / "univac.toml"
    config.write_text(f"[bot]\nmax_crashes = 1\nplugins = ['echo']\nstate_dir = 'state'\n"
                      f"[[transports]]\ntype = '{crashy}'\n")
    watchdog = WatchdogProcess(config, "--max-crashes", "1", "--window", "60", *FAST)
    cleanup.append(watchdog)
    first = watchdog.wait_for(r"the bot exited with code 3 \(the supervisor gave up.*"
                              r"restarting in ([\d.]+) s \(crash 1 of at most 1 within 60 s\)")
    assert float(first.group(1)) == pytest.approx(0.05, abs=0.01)
    watchdog.wait_for(r"giving up: 2 crashes within 60 s \(the last one: exited with code 3")
    assert watchdog.finish() == 4


def test_a_killed_bot_is_restarted_and_signals_reach_it(
    tmp_path: Path, cleanup: list[WatchdogProcess]
) -> None:
    watchdog = WatchdogProcess(controlled_config(tmp_path, console=False), *FAST)
    cleanup.append(watchdog)
    first = watchdog.ready_pid()
    os.kill(first, signal.SIGKILL)
    watchdog.wait_for(r"the bot killed by SIGKILL; restarting in 0\.05 s \(crash 1 of")
    second = watchdog.ready_pid()
    watchdog.process.send_signal(signal.SIGHUP)
    watchdog.wait_for(rf"SIGHUP: passing it on to the bot \(pid {second}\)")
    watchdog.wait_for(r"restarting the bot \(SIGHUP\): it killed by SIGHUP")
    third = watchdog.ready_pid()
    assert len({first, second, third}) == 3
    watchdog.process.send_signal(signal.SIGTERM)
    watchdog.wait_for(rf"SIGTERM: passing it on to the bot \(pid {third}\)")
    watchdog.wait_for("univac stopped")
    assert watchdog.finish() == 0
    assert any("the bot exited with code 0 after it was asked to stop" in s for s in watchdog.seen)


def test_a_hung_bot_is_killed_with_its_stacks_shown_and_restarted(
    tmp_path: Path, cleanup: list[WatchdogProcess]
) -> None:
    config = controlled_config(tmp_path, console=False)
    watchdog = WatchdogProcess(config, "--hang-timeout", "1", *FAST)
    cleanup.append(watchdog)
    first = watchdog.ready_pid()
    (tmp_path / "wedge").touch()
    hung = time.monotonic()
    watchdog.wait_for(rf"the bot \(pid {first}\) hung: no heartbeat for 1 s; sending SIGABRT")
    assert 0.9 < time.monotonic() - hung < 3
    watchdog.wait_for(r'File ".*controlled\.py", line \d+ in status')
    watchdog.wait_for(r"the bot hung: no heartbeat for 1 s; restarting in 0\.05 s")
    assert watchdog.ready_pid() != first
    watchdog.process.send_signal(signal.SIGINT)
    assert watchdog.finish() == 0


def test_a_configuration_error_is_not_restarted(
    tmp_path: Path, cleanup: list[WatchdogProcess]
) -> None:
    config = tmp_path / "univac.toml"
    config.write_text("[bot]\nprefx = '!'\n")
    watchdog = WatchdogProcess(config, *FAST)
    cleanup.append(watchdog)
    watchdog.wait_for("bot.prefx: unknown setting")
    watchdog.wait_for(r"the bot exited with code 1 \(invalid configuration\): not restarting")
    assert watchdog.finish() == 1
    assert sum("started the bot" in line for line in watchdog.seen) == 1


# A child that says READY=1 through univac's own notifier, then ignores SIGTERM forever.
STUBBORN = (
    "import os, signal, threading\n"
    "from univac.ops.sdnotify import Notifier\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "Notifier.from_environ(os.environ).send('READY=1')\n"
    "threading.Event().wait()\n"
)


def test_a_child_that_ignores_sigterm_gets_sigkill_after_the_stop_timeout(
    cleanup: list[WatchdogProcess]
) -> None:
    watchdog = WatchdogProcess(None, "--hang-timeout", "0", "--stop-timeout", "0.5",
                               child=(sys.executable, "-c", STUBBORN))
    cleanup.append(watchdog)
    watchdog.ready_pid()
    watchdog.process.send_signal(signal.SIGTERM)
    asked = time.monotonic()
    watchdog.wait_for(r"the bot \(pid \d+\) is still running; sending SIGKILL")
    assert 0.4 < time.monotonic() - asked < 3
    watchdog.wait_for("the bot killed by SIGKILL after it was asked to stop")
    assert watchdog.finish() == 128 + signal.SIGKILL


def test_a_child_that_never_gets_ready_is_a_hang_and_counts_as_a_crash(
    cleanup: list[WatchdogProcess]
) -> None:
    silent = (sys.executable, "-c", "import threading; threading.Event().wait()")
    watchdog = WatchdogProcess(None, "--start-timeout", "0.3", "--max-crashes", "0",
                               child=silent)
    cleanup.append(watchdog)
    started = time.monotonic()
    watchdog.wait_for(r"the bot \(pid \d+\) hung: not ready within 0.3 s; sending SIGABRT")
    assert 0.25 < time.monotonic() - started < 3
    watchdog.wait_for(r"giving up: 1 crashes within 600 s \(the last one: hung: not ready")
    assert watchdog.finish() == 4


def gone(pid: int) -> bool:
    """True once ``pid`` has exited (reaped, or a zombie waiting for its new parent)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_the_bot_dies_with_a_watchdog_killed_by_sigkill(
    tmp_path: Path, cleanup: list[WatchdogProcess]
) -> None:
    watchdog = WatchdogProcess(controlled_config(tmp_path, console=False), *FAST)
    cleanup.append(watchdog)
    bot = watchdog.ready_pid()
    try:
        assert not gone(bot)
        watchdog.process.kill()
        assert watchdog.finish() == -signal.SIGKILL
        assert wait_for(lambda: gone(bot), timeout=10, what=f"the bot (pid {bot}) to die")
    finally:
        if not gone(bot):  # an orphan would answer beside the next test's bot
            os.kill(bot, signal.SIGKILL)
