"""A bot killed in the middle of a step: the audit trail shows the run started, the step's
process dies with the bot, the lock is free for the next bot, and the overrides report
counts the run as interrupted. Real ``univac`` processes on the console transport."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.integration.botprocess import BotProcess, univac_command
from tests.plugins.runbooks.helpers import CATALOGUE, alive
from tests.waiting import wait_for
from univac.plugins.runbooks.locks import StepLock

pytestmark = pytest.mark.integration

CONFIG = """\
[bot]
plugins = ["runbooks"]
state_dir = "state"

[roles.ops]
console = ["console:*"]

[[transports]]
type = "console"
user = "operator"

[plugins.runbooks]
catalogue = "{catalogue}"
artifacts_dir = "{artifacts}"
variables = {{ staging = {{ PID_FILE = "{pid_file}" }} }}
"""


def records(tmp_path: Path) -> list[dict]:
    lines = (tmp_path / "state" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def start_hold(tmp_path: Path, config: Path, pid_file: Path) -> tuple[BotProcess, int]:
    bot = BotProcess("--config", str(config), cwd=tmp_path)
    bot.send("!runbook run hold")
    wait_for(pid_file.exists, timeout=60, what="the step to start")
    return bot, int(pid_file.read_text())


def test_a_run_killed_mid_step_leaves_a_record_and_no_stuck_lock(tmp_path: Path) -> None:
    pid_file = tmp_path / "hold.pid"
    config = tmp_path / "univac.toml"
    config.write_text(CONFIG.format(catalogue=CATALOGUE, artifacts=tmp_path / "artifacts",
                                    pid_file=pid_file), encoding="utf-8")
    bot, step_pid = start_hold(tmp_path, config, pid_file)
    try:
        started = [r for r in records(tmp_path) if r.get("outcome") == "started"]
        assert [(r["step"], r["identity"]) for r in started] == [("hold", "console:operator")]
        bot.process.send_signal(signal.SIGKILL)
        assert bot.finish(timeout=30, close_stdin=False) == -signal.SIGKILL
        assert not [r for r in records(tmp_path) if r.get("outcome") in ("ok", "failed")]
        if shutil.which("setpriv"):
            assert wait_for(lambda: not alive(step_pid), timeout=30,
                            what="the step's process to die with the bot")
        assert not StepLock(tmp_path / "artifacts" / "locks", "hold", "staging").busy()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(step_pid, signal.SIGKILL)

    pid_file.unlink()
    second, again = start_hold(tmp_path, config, pid_file)
    try:
        os.killpg(again, signal.SIGTERM)
        assert second.expect(1, 60)[0].startswith("hold in staging: failed (exit -15")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(again, signal.SIGKILL)
        assert second.finish(timeout=60) == 0

    report = subprocess.run([*univac_command(), "runbook", "overrides", "--config", str(config),
                             "--format", "json"], capture_output=True, text=True, timeout=60,
                            check=False)
    (hold,) = json.loads(report.stdout)["steps"]
    assert (hold["step"], hold["interrupted"], hold["failed"]) == ("hold", 1, 1)
