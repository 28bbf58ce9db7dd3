"""``univac runbook`` as a process: exit codes and messages of lint, simulate, promote and
the overrides report, through the installed ``univac`` script."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.integration.botprocess import univac_command
from tests.plugins.runbooks.helpers import (
    BROKEN,
    CATALOGUE,
    OUTPUTS,
    Chat,
    copy_catalogue,
    make_bot,
)
from univac.plugins.runbooks import catalogue as catalogues


def univac(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "UNIVAC_CONFIG"}
    return subprocess.run([*univac_command(), *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=env, check=False)


def test_the_tool_is_installed_and_listed() -> None:
    listed = univac("--help")
    assert listed.returncode == 0 and "runbook" in listed.stdout
    bare = univac("runbook")
    assert bare.returncode == 2 and "usage: univac runbook" in bare.stderr


def test_lint_passes_a_good_catalogue() -> None:
    done = univac("runbook", "lint", str(CATALOGUE))
    assert (done.returncode, done.stdout) == (0, "")
    assert "0 error(s), 0 warning(s) in 15 valid step(s)" in done.stderr


def test_lint_names_every_problem_and_fails() -> None:
    done = univac("runbook", "lint", str(BROKEN))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert "steps.yaml:2: bad-regex: error: expect[1].pattern: bad regular expression " \
           "'([unclosed': unterminated character set at position 1" in lines
    assert "steps.yaml:14: dangling-next: error: next.success: points to 'nowhere-step', " \
           "which is not a step of the catalogue" in lines
    assert "steps.yaml:9: unknown-scope: error: safety.scopes: unknown environment 'qa' " \
           "(known: staging, prod)" in lines
    assert "steps.yaml:20: not-on-path: warning: command: no-such-program-anywhere not found " \
           "on PATH (/usr/local/bin:/usr/bin:/bin)" in lines
    assert "steps.yaml:34: bad-regex: error: duplicate id (also at steps.yaml:2)" in lines
    assert "twice.yaml:4: twice: error: key 'command' is given twice" in lines
    assert any(line.startswith("syntax.yaml:4: error: not valid YAML") for line in lines)
    assert "12 error(s), 1 warning(s) in 4 valid step(s)" in done.stderr


def test_lint_for_github_actions_and_the_strict_mode(tmp_path: Path) -> None:
    done = univac("runbook", "lint", str(BROKEN), "--format", "github")
    assert f"::error file={BROKEN}/steps.yaml,line=9::unknown-scope: safety.scopes: unknown " \
           "environment 'qa' (known: staging, prod)" in done.stdout.splitlines()
    (tmp_path / "w.yaml").write_text("id: w\nservice: s\ncommand: not-a-program-here\n"
                                     "safety: {scopes: [prod]}\n")
    assert univac("runbook", "lint", str(tmp_path)).returncode == 0
    assert univac("runbook", "lint", str(tmp_path), "--strict").returncode == 1


def test_lint_takes_the_environments_and_variables_of_the_bot(tmp_path: Path) -> None:
    only_staging = univac("runbook", "lint", str(CATALOGUE), "--environments", "staging")
    assert only_staging.returncode == 1
    assert "unknown environment 'prod' (known: staging)" in only_staging.stdout
    (tmp_path / "v.yaml").write_text("id: v\nservice: s\ncommand: [echo, '${REGION}']\n"
                                     "secrets: [TOKEN]\nsafety: {scopes: [staging, prod]}\n")
    alone = univac("runbook", "lint", str(tmp_path))
    assert alone.returncode == 0 and "${REGION} is not defined for staging, prod" in alone.stdout
    config = tmp_path / "univac.toml"
    config.write_text(f"""
[bot]
plugins = ["runbooks"]
[plugins.runbooks]
catalogue = "{tmp_path}"
artifacts_dir = "{tmp_path / 'artifacts'}"
variables = {{ staging = {{ REGION = "eu-west" }} }}
secret_files = {{ prod = {{ TOKEN = "/run/credentials/token" }} }}
""")
    checked = univac("runbook", "lint", str(tmp_path), "--config", str(config))
    assert checked.returncode == 1
    assert "v: error: command: ${REGION} is not defined for prod by the step (nor by " \
           "anything)" in checked.stdout
    assert "v: error: secrets: TOKEN has no file in secret_files for staging" in checked.stdout
    config.write_text("[bot]\nplugins = ['runbooks']\n[plugins.runbooks]\ncatalogue = 'x'\n")
    bad = univac("runbook", "lint", str(tmp_path), "--config", str(config))
    assert bad.returncode == 1 and "plugins.runbooks.catalogue" in bad.stderr


def test_simulate_reports_the_flow_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    done = univac("runbook", "simulate", str(CATALOGUE), "--service", "cache", "--symptom",
                  "RedisMemoryHigh on redis1", "--env", "staging",
                  "--output", f"clear-cache={OUTPUTS / 'clear-ok.txt'}",
                  "--output", f"verify-cache={OUTPUTS / 'verify-bad.txt'}")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Alert: service cache, symptom 'RedisMemoryHigh on redis1', " \
                       "environment staging"
    assert "   result: ok -> next: verify-cache" in lines
    assert "   result: expect_failed -> next: escalate" in lines
    assert lines[-1] == "Nothing was executed."
    assert not marker.exists()


def test_simulate_exit_codes(tmp_path: Path) -> None:
    nothing = univac("runbook", "simulate", str(CATALOGUE), "--symptom", "all quiet")
    assert nothing.returncode == 1 and "nothing would be offered" in nothing.stdout
    unknown = univac("runbook", "simulate", str(CATALOGUE), "--symptom", "DiskFull",
                     "--output", f"nope={OUTPUTS / 'clear-ok.txt'}")
    assert unknown.returncode == 1 and "unknown step(s): nope" in unknown.stderr
    malformed = univac("runbook", "simulate", str(CATALOGUE), "--symptom", "x", "--output", "y")
    assert malformed.returncode == 2 and "write STEP=FILE" in malformed.stderr
    missing = univac("runbook", "simulate", str(tmp_path / "none"), "--symptom", "x")
    assert missing.returncode == 1 and "not a folder" in missing.stderr


def test_promote_writes_where_the_bot_reads(univac_bot, tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    version = catalogues.load(root).get("escalate").version
    done = univac("runbook", "promote", str(root), "--action", "escalate", "--env", "prod",
                  "--evidence-url", "https://ci.example/runs/77", "--by", "alice")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"Promoted escalate version {version} to prod (evidence "
                           "https://ci.example/runs/77). Commit promotions.yaml to make it "
                           "count.\n")
    again = univac("runbook", "promote", str(root), "--action", "escalate", "--env", "prod",
                   "--evidence-url", "https://ci.example/runs/78")
    assert again.returncode == 0 and "already promoted" in again.stdout
    bot = make_bot(univac_bot, tmp_path, catalogue=root)
    assert bot.ask("!runbook run escalate prod", sender="alice")[0].startswith(
        "escalate in prod: ok")


def test_promote_refuses_without_evidence_or_outside_the_scopes(tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    cases = [
        (["--action", "escalate", "--env", "prod", "--evidence-url", "see slack"],
         "the evidence URL must be an http(s) URL"),
        (["--action", "wipe-tmp", "--env", "prod", "--evidence-url", "https://ci.example/1"],
         "wipe-tmp may run only in staging, not prod"),
        (["--action", "gone", "--env", "prod", "--evidence-url", "https://ci.example/1"],
         "no valid step gone"),
    ]
    for arguments, reason in cases:
        done = univac("runbook", "promote", str(root), *arguments)
        assert done.returncode == 1 and reason in done.stderr, done.stderr
    missing = univac("runbook", "promote", str(root), "--action", "escalate", "--env", "prod")
    assert missing.returncode == 2 and "--evidence-url" in missing.stderr
    assert not (root / "promotions.yaml").exists()


def test_the_overrides_report_counts_what_needed_a_human(univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path, approval_ttl_s=1.0)
    chat = Chat(bot)
    chat.start("!runbook run clear-cache", "alice")
    chat.wait_for("nobody approved in time")
    bot.wait()
    chat.start("!runbook run clear-cache", "alice")
    chat.wait_for("Approval needed (1 from role 'approvers'): runbook clear-cache")
    chat.ask("!deny 2", "carol")
    chat.wait_for("clear-cache was denied by test:carol.")
    bot.wait()
    bot.ask("!runbook run wrong-output", sender="alice")
    bot.ask("!runbook run verify-cache", sender="alice")
    bot.ask("!runbook override clear-cache staging flushed by hand", sender="alice")
    trail = tmp_path / "state" / "audit.jsonl"
    old = {"time": "2020-01-01T00:00:00.000+00:00", "action": "runbook", "plugin": "runbooks",
           "outcome": "denied", "step": "verify-cache", "service": "cache", "run": "old"}
    cut = {"time": "2099-01-01T00:00:00.000+00:00", "action": "runbook", "plugin": "runbooks",
           "outcome": "started", "step": "hold", "service": "tools", "run": "cut"}
    with trail.open("a") as file:
        file.write(json.dumps(old) + "\n" + json.dumps(cut) + "\nnot json\n")

    done = univac("runbook", "overrides", "--audit-file", str(trail))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Steps that needed a human since ") and "(30d)" in lines[0]
    assert lines[1].split() == ["step", "service", "needed", "denied", "timed_out",
                                "expect_failed", "manual_override", "failed", "ok",
                                "interrupted"]
    assert lines[2].split() == ["clear-cache", "cache", "3", "1", "1", "0", "1", "0", "0", "0"]
    assert lines[3].split() == ["wrong-output", "tools", "1", "0", "0", "1", "0", "0", "0", "0"]
    assert ["hold", "tools", "0", "0", "0", "0", "0", "0", "0", "1"] in [
        line.split() for line in lines]
    assert ["verify-cache", "cache", "0", "0", "0", "0", "0", "0", "1", "0"] in [
        line.split() for line in lines]
    assert "1 line(s) of the audit trail were not JSON" in done.stderr

    config = tmp_path / "univac.toml"
    config.write_text(f'[bot]\nstate_dir = "{tmp_path / "state"}"\n')
    found = univac("runbook", "overrides", "--config", str(config), "--since", "3650d",
                   "--format", "json")
    steps = {row["step"]: row for row in json.loads(found.stdout)["steps"]}
    assert steps["verify-cache"]["denied"] == 1 and steps["clear-cache"]["needed"] == 3
    assert univac("runbook", "overrides", "--since", "soon", "--audit-file",
                  str(trail)).returncode == 2
    assert univac("runbook", "overrides").returncode == 2
    assert univac("runbook", "overrides", "--audit-file", str(tmp_path / "none")).returncode == 1
