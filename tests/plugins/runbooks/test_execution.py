"""Running a step: real subprocesses (the fixture catalogue's scripts), time-outs, output
caps, a clean environment, secrets, the working folder, and the lock."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.plugins.runbooks.helpers import CATALOGUE, alive
from tests.waiting import wait_for
from univac.plugins.runbooks import catalogue as catalogues
from univac.plugins.runbooks import execution
from univac.plugins.runbooks.execution import Masker, NotRunnable
from univac.plugins.runbooks.locks import StepLock
from univac.plugins.runbooks.settings import DEFAULT_PATH

STEPS = catalogues.load(CATALOGUE)


def prepared(step_id: str, environment: str = "staging", variables=None, secrets=None):
    return execution.prepare(STEPS.get(step_id), environment, CATALOGUE, DEFAULT_PATH,
                             variables or {}, secrets or {})


def run(step_id: str, tmp_path: Path, timeout: float = 30.0, max_bytes: int = 100_000,
        work_dir: str = "", **options):
    return execution.run(prepared(step_id, **options), timeout, max_bytes, work_dir,
                         tmp_path / "work")


def test_a_step_runs_its_script_without_a_shell(tmp_path: Path) -> None:
    outcome = run("clear-cache", tmp_path)
    assert (outcome.exit_code, outcome.timed_out, outcome.truncated) == (0, False, False)
    assert outcome.output == "OK\n(empty list or set)\n"


def test_a_variable_becomes_part_of_one_argument_never_two(tmp_path: Path) -> None:
    outcome = run("verify-cache", tmp_path, variables={},)
    assert outcome.output == "PONG from redis.staging\n"
    step = dataclasses.replace(STEPS.get("verify-cache"), env={"staging": {
        "REDIS_HOST": "a; rm -rf / b"}})
    ready = execution.prepare(step, "staging", CATALOGUE, DEFAULT_PATH, {}, {})
    assert ready.argv[1:] == ("PONG from a; rm -rf / b",)


def test_a_failing_command_reports_its_exit_status_and_stderr(tmp_path: Path) -> None:
    outcome = run("fails", tmp_path)
    assert outcome.exit_code == 3 and outcome.output == "something broke\n"


def test_the_time_out_stops_the_whole_process_group(tmp_path: Path) -> None:
    outcome = run("slow", tmp_path, timeout=1.0)
    assert outcome.timed_out and outcome.exit_code is None
    assert 1.0 <= outcome.duration_s < 30
    child = int(next(line for line in outcome.output.splitlines()
                     if line.startswith("child ")).split()[1])
    assert wait_for(lambda: not alive(child), what="the sleeping child to be gone")
    assert not alive(outcome.pid)


def test_a_child_left_running_does_not_hold_the_run_open(tmp_path: Path) -> None:
    outcome = run("leave-child", tmp_path, timeout=120.0)
    try:
        assert (outcome.exit_code, outcome.timed_out) == (0, False)
        assert outcome.output.startswith("parent done\n") and outcome.duration_s < 25
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(outcome.pid, signal.SIGKILL)


def test_output_beyond_the_cap_is_read_and_dropped(tmp_path: Path) -> None:
    outcome = run("flood", tmp_path, max_bytes=4096)
    assert outcome.exit_code == 0 and outcome.truncated
    assert len(outcome.output.encode()) == 4096
    assert outcome.output.startswith("line 1 of a lot of output\n")


def test_the_environment_is_clean_and_holds_only_configured_values(
        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BOT_ONLY_SECRET", "do-not-leak")
    token = tmp_path / "token"
    token.write_text("s3cret-token-value\n")
    ready = prepared("show-env", variables={"staging": {"REGION": "eu"}},
                     secrets={"staging": {"API_TOKEN": str(token)}})
    assert ready.secrets == ("s3cret-token-value",)
    outcome = execution.run(ready, 30, 100_000, "", tmp_path / "work")
    lines = outcome.output.splitlines()
    names = sorted(line.split("=", 1)[0] for line in lines if "=" in line and
                   not line.startswith("cwd="))
    assert {"API_TOKEN", "GREETING", "PATH", "REGION", "RUNBOOK_ENVIRONMENT",
            "RUNBOOK_STEP"} <= set(names)
    assert "BOT_ONLY_SECRET" not in names and "HOME" not in names
    assert f"PATH={DEFAULT_PATH}" in lines and "GREETING=hello" in lines
    assert "RUNBOOK_STEP=show-env" in lines and "API_TOKEN=s3cret-token-value" in lines
    cwd = next(line for line in lines if line.startswith("cwd=")).removeprefix("cwd=")
    assert Path(cwd).parent == tmp_path / "work" and not Path(cwd).exists()
    assert Masker(ready.secrets)(outcome.output).count("API_TOKEN=***") == 1


def test_a_configured_working_folder_is_used(tmp_path: Path) -> None:
    folder = tmp_path / "here"
    folder.mkdir()
    outcome = execution.run(prepared("show-env", secrets={"staging": {"API_TOKEN": "/dev/null"}}),
                            30, 100_000, str(folder), tmp_path / "work")
    assert f"cwd={folder}" in outcome.output.splitlines()


def test_what_is_missing_is_named_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(NotRunnable, match="secret API_TOKEN is not configured for staging"):
        prepared("show-env")
    with pytest.raises(NotRunnable, match="cannot read the secret API_TOKEN"):
        prepared("show-env", secrets={"staging": {"API_TOKEN": str(tmp_path / "none")}})
    step = dataclasses.replace(STEPS.get("fails"), command=("no-such-program-x",))
    with pytest.raises(NotRunnable, match="program 'no-such-program-x' not found"):
        execution.prepare(step, "staging", CATALOGUE, DEFAULT_PATH, {}, {})
    step = dataclasses.replace(STEPS.get("fails"), command=("echo", "${NOWHERE}"))
    with pytest.raises(NotRunnable, match="variable NOWHERE is not set for staging"):
        execution.prepare(step, "staging", CATALOGUE, DEFAULT_PATH, {}, {})


def test_the_masker_hides_every_secret_longest_first() -> None:
    mask = Masker(("abcd", "abcdef", "xy"))
    assert mask("abcdef abcd xy") == "*** *** xy"


def test_one_run_at_a_time_per_step_and_environment(tmp_path: Path) -> None:
    first = StepLock(tmp_path, "clear-cache", "prod")
    assert first.acquire({"run": "r1", "requester": "test:alice"})
    assert StepLock(tmp_path, "clear-cache", "prod").busy()
    assert not StepLock(tmp_path, "clear-cache", "prod").acquire({"run": "r2"})
    assert StepLock(tmp_path, "clear-cache", "prod").holder()["run"] == "r1"
    assert StepLock(tmp_path, "clear-cache", "staging").acquire({"run": "r3"})
    first.release()
    assert not StepLock(tmp_path, "clear-cache", "prod").busy()


HOLDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from univac.plugins.runbooks.locks import StepLock
    lock = StepLock(Path(sys.argv[1]), "hold", "staging")
    assert lock.acquire({"run": "killed"})
    print("locked", flush=True)
    sys.stdin.read()
""")


def test_a_killed_holder_leaves_no_stuck_lock(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert StepLock(tmp_path, "hold", "staging").busy()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(30)
    finally:
        holder.kill()
        holder.wait(30)
    lock = StepLock(tmp_path, "hold", "staging")
    assert lock.acquire({"run": "next"})
    lock.release()
