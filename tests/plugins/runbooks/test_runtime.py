"""What the plugin keeps while it runs: its line in ``!status``, the artifacts in the
plugin's data folder by default, and the secrets a step reads handed to the core."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.plugins.runbooks.helpers import ROLES, Chat, copy_catalogue, make_bot, settings
from tests.waiting import wait_for


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), "-c", "user.name=Test", "-c",
                           "user.email=test@example.org", *args], check=True,
                          capture_output=True, text=True)
    return done.stdout.strip()


def status_line(bot) -> str:
    return next(line for line in bot.ask("!status") if line.startswith("plugin runbooks: "))


def test_the_status_line_names_the_revision_the_runs_and_the_locks(
        univac_bot, tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "Steps")
    head = git(root, "rev-parse", "--short=12", "HEAD")
    pid_file = tmp_path / "hold.pid"
    bot = make_bot(univac_bot, tmp_path, catalogue=root, plugins=("approvals", "status"),
                   variables={"staging": {"PID_FILE": str(pid_file)}})
    steps = len(bot.bot.contexts["runbooks"].shared.runtime.loaded.last.steps)
    idle = f"plugin runbooks: catalogue {head}: {steps} step(s); 0 run(s) in progress; " \
           "0 lock(s) held"
    assert status_line(bot) == idle
    assert bot.bot.status().plugins["runbooks"] == idle.removeprefix("plugin runbooks: ")

    chat = Chat(bot)
    chat.start("!runbook run clear-cache", "alice")  # waits for an approver
    chat.wait_for("Approval needed")
    chat.start("!runbook run hold", "carol")  # runs until killed
    wait_for(pid_file.exists, timeout=30, what="the held step to start")
    assert status_line(bot).endswith("; 2 run(s) in progress (clear-cache@staging, "
                                     "hold@staging); 1 lock(s) held (hold@staging)")
    chat.ask("!deny 1", "dave")
    os.killpg(int(pid_file.read_text()), signal.SIGTERM)
    chat.wait_for("hold in staging: failed")
    bot.wait()
    assert status_line(bot) == idle

    path = root / "escalate.yaml"
    path.write_text(path.read_text().replace("paging the owners", "paging everyone"))
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert status_line(bot) == idle  # what is loaded: read again at the next command
    bot.ask("!runbook list")
    assert status_line(bot) == idle.replace(head, f"{head}+changes")


def test_artifacts_go_to_the_plugin_s_data_folder_by_default(univac_bot, tmp_path: Path) -> None:
    table = settings(tmp_path)
    del table["artifacts_dir"]
    bot = univac_bot("runbooks", roles=ROLES, state_dir=tmp_path / "state",
                     settings={"runbooks": table})
    replies = bot.ask("!runbook run verify-cache", sender="alice")
    name = replies[-1].rsplit(": ", 1)[1]
    folder = tmp_path / "state" / "runbooks"
    assert (folder / "runs" / name).read_text().endswith("PONG from redis.staging\n")
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert not (tmp_path / "artifacts").exists()


def test_an_explicit_artifacts_dir_is_kept(univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    name = bot.ask("!runbook run verify-cache", sender="alice")[-1].rsplit(": ", 1)[1]
    assert (tmp_path / "artifacts" / "runs" / name).is_file()
    assert not (tmp_path / "state" / "runbooks").exists()


def test_a_secret_read_at_run_time_is_masked_by_the_core_from_then_on(
        univac_bot, tmp_path: Path) -> None:
    token = tmp_path / "api-token"
    token.write_text("tk-9f8e7d6c5b4a\n")
    bot = make_bot(univac_bot, tmp_path, plugins=("approvals", "echo"), chat_lines=20,
                   secret_files={"staging": {"API_TOKEN": str(token)}})
    assert bot.ask("!echo tk-9f8e7d6c5b4a") == ["tk-9f8e7d6c5b4a"]  # not known yet
    assert "> API_TOKEN=***" in bot.ask("!runbook run show-env", sender="alice")
    assert bot.ask("!echo the token is tk-9f8e7d6c5b4a") == ["the token is ***"]
