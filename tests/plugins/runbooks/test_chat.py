"""``runbook`` in chat through the harness: guards, approvals with two identities, real
runs of the fixture scripts, the audit trail, metrics, artifacts and the flow."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tests.plugins.runbooks.helpers import (
    BROKEN,
    CATALOGUE,
    Chat,
    audit,
    copy_catalogue,
    counter,
    durations,
    make_bot,
    outcomes,
)
from tests.waiting import wait_for
from univac.plugins.runbooks import catalogue as catalogues
from univac.plugins.runbooks import promotion


def artifact(tmp_path: Path, line: str) -> str:
    name = line.rsplit(": ", 1)[1]
    return (tmp_path / "artifacts" / "runs" / name).read_text(encoding="utf-8")


def test_list_and_show_describe_the_steps(univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    assert bot.ask("!runbook list disk") == [
        "collect-diagnostics (disk): Collect disk diagnostics [staging, prod; safe for "
        "automation]",
        "wipe-tmp (disk): Wipe temporary files [staging; needs 2 approvals from 'approvers' "
        "(not the requester)]",
    ]
    shown = bot.ask("!runbook show clear-cache")
    assert shown[:5] == [
        "clear-cache (cache): Clear the Redis cache",
        "command: scripts/say.sh OK '(empty list or set)' (timeout 30 s)",
        "guards: scopes staging, prod; needs 1 approval from 'approvers' (not the requester)",
        "expect: 'OK'; '(empty list or set)' (may fail)",
        "next: success -> verify-cache, failure -> escalate",
    ]
    assert shown[-1] == "prod: this version is not promoted"
    assert bot.ask("!runbook show clear-cahce") == [
        "There is no step clear-cahce; did you mean clear-cache?"]
    assert bot.ask("!runbook list nothing") == ["No steps for service nothing."]


def test_a_run_without_approval_executes_and_is_recorded(univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    replies = bot.ask("!runbook run verify-cache", sender="alice")
    assert replies[0].startswith("verify-cache in staging: ok (exit 0, ")
    assert replies[0].endswith(" s); expected '^PONG' seen")
    assert replies[1] == "> PONG from redis.staging"
    assert replies[2].startswith("full output: ") and len(replies) == 3
    kept = artifact(tmp_path, replies[2])
    assert "# step: verify-cache (version " in kept and kept.endswith("PONG from redis.staging\n")
    records = audit(tmp_path)
    assert [r["outcome"] for r in records] == ["requested", "started", "ok"]
    done = records[-1]
    version = catalogues.load(CATALOGUE).get("verify-cache").version
    assert (done["step"], done["environment"], done["version"], done["identity"],
            done["requester"], done["exit_code"]) == (
        "verify-cache", "staging", version, "test:alice", "test:alice", 0)
    assert done["run"] == records[0]["run"] and "catalogue" in done
    assert counter(bot, "cache", "verify-cache", "ok") == 1
    assert durations(bot, "cache", "verify-cache") == 1


def test_a_step_outside_its_scopes_is_refused_before_anything_else(
        univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    assert bot.ask("!runbook run wipe-tmp prod", sender="mallory") == [
        "wipe-tmp may run only in staging, not in prod."]
    assert outcomes(tmp_path) == ["refused_scope"]
    assert counter(bot, "disk", "wipe-tmp", "refused_scope") == 1
    assert bot.ask("!runbook run wipe-tmp qa", sender="alice") == [
        "Unknown environment qa; choose from staging, prod."]


def test_the_runner_role_is_needed_to_run(univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    assert bot.ask("!runbook run verify-cache", sender="mallory") == [
        "You need the 'ops' role to run runbook steps."]
    assert outcomes(tmp_path) == ["refused"]
    assert not (tmp_path / "artifacts" / "runs").exists()


def test_the_requester_cannot_approve_their_own_run(univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    chat = Chat(bot)
    chat.start("!runbook run clear-cache", "alice")
    request = chat.wait_for("Approval needed")
    assert "(1 from role 'approvers'): runbook clear-cache in staging (version" in request
    assert chat.ask("!approve 1", "alice") == ["You cannot answer your own request 1."]
    assert chat.ask("!approve 1", "mallory") == [
        "You need the 'approvers' role to answer request 1."]
    assert not any("clear-cache in staging: ok" in line for line in chat.seen)
    assert chat.ask("!approve 1", "carol")[0].startswith("Request 1 approved")
    result = chat.wait_for("clear-cache in staging: ok")
    assert result.endswith("; approved by test:carol")
    assert chat.wait_for("Next (on success): verify-cache: Check the cache answers")
    records = audit(tmp_path, "")
    run = next(r["run"] for r in records if r.get("outcome") == "requested")
    asked = next(r for r in records if r["action"] == "approval" and r["outcome"] == "requested")
    assert f"run {run}" in asked["what"]
    approvers = [r["identity"] for r in records if r["action"] == "approval"
                 and r["outcome"] == "approved" and r["request"] == asked["request"]]
    assert approvers == ["test:carol"]
    assert outcomes(tmp_path) == ["requested", "approved", "started", "ok"]
    ours = audit(tmp_path)
    assert "approvers" not in ours[0]
    assert [r["approvers"] for r in ours[1:]] == [["test:carol"]] * 3  # approved, started, ok
    assert ours[1]["request"] == asked["request"]
    kept = next(line for line in chat.seen if "full output: " in line)
    assert "# approvers: test:carol\n" in artifact(tmp_path, kept)


def test_a_step_that_allows_it_may_be_approved_by_its_requester(
        univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    chat = Chat(bot)
    chat.start("!runbook run self-service", "alice")
    chat.wait_for("Approval needed")
    assert chat.ask("!approve 1", "alice")[0].startswith("Request 1 approved")
    assert chat.wait_for("self-service in staging: ok")


def test_two_approvals_from_two_people(univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    chat = Chat(bot)
    chat.start("!runbook run wipe-tmp", "alice")
    assert "(2 from role 'approvers')" in chat.wait_for("Approval needed")
    assert chat.ask("!approve 1", "carol") == ["Approval 1 of 2 recorded for request 1."]
    assert chat.ask("!approve 1", "carol") == ["Approval 1 of 2 recorded for request 1."]
    chat.ask("!approve 1", "dave")
    assert chat.wait_for("wipe-tmp in staging: ok").endswith(
        "; approved by test:carol, test:dave")
    assert audit(tmp_path)[-1]["approvers"] == ["test:carol", "test:dave"]


def test_a_denial_after_one_approval_names_both(univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    chat = Chat(bot)
    chat.start("!runbook run wipe-tmp", "alice")
    chat.wait_for("Approval needed")
    chat.ask("!approve 1", "carol")
    chat.ask("!deny 1", "dave")
    assert chat.wait_for("wipe-tmp was denied by test:dave.")
    bot.wait()
    denied = audit(tmp_path)[-1]
    assert (denied["outcome"], denied["approvers"], denied["denied_by"]) == (
        "denied", ["test:carol"], "test:dave")


def test_a_denial_ends_the_run_before_it_starts(univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    chat = Chat(bot)
    chat.start("!runbook run clear-cache", "alice")
    chat.wait_for("Approval needed")
    chat.ask("!deny 1", "carol")
    assert chat.wait_for("clear-cache was denied by test:carol.")
    assert outcomes(tmp_path) == ["requested", "denied"]
    denied = audit(tmp_path)[-1]
    assert denied["denied_by"] == "test:carol" and "approvers" not in denied
    assert counter(bot, "cache", "clear-cache", "denied") == 1
    assert not (tmp_path / "artifacts" / "runs").exists()


def test_an_unanswered_request_times_out_and_the_flow_follows_it(
        univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path, approval_ttl_s=1.0)
    chat = Chat(bot)
    chat.start("!runbook run clear-cache", "alice")
    assert chat.wait_for("clear-cache: nobody approved in time (1 s).")
    assert chat.wait_for("Next (after the time-out): escalate: Page the cache owners")
    bot.wait()
    assert outcomes(tmp_path) == ["requested", "timed_out"]
    assert counter(bot, "cache", "clear-cache", "timed_out") == 1
    assert bot.ask("!runbook next") == [
        "Next after clear-cache: timed_out: escalate: Page the cache owners (no approval): "
        "runbook run escalate staging"]


def test_results_failed_expect_failed_and_timed_out(univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    failed = bot.ask("!runbook run fails", sender="alice")
    assert failed[0].startswith("fails in staging: failed (exit 3, ")
    assert failed[1] == "> something broke"
    wrong = bot.ask("!runbook run wrong-output", sender="alice")
    assert wrong[0].startswith("wrong-output in staging: expect_failed (exit 0, ")
    assert wrong[0].endswith("expected '^all good$' missing")
    slow = bot.ask("!runbook run slow", sender="alice")
    assert slow[0].startswith("slow in staging: timed_out (timed out after 1 s, ")
    assert slow[-1] == ("Next (after the time-out): escalate-tools (no approval): runbook run "
                        "escalate-tools staging")
    for action, result in (("fails", "failed"), ("wrong-output", "expect_failed"),
                           ("slow", "timed_out")):
        assert counter(bot, "tools", action, result) == 1
        assert durations(bot, "tools", action) == 1


def test_chat_shows_the_last_lines_and_the_artifact_keeps_the_output(
        univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path, max_output_bytes=100_000, chat_lines=3,
                   artifact_url="https://bot.example/runs/")
    replies = bot.ask("!runbook run flood", sender="alice")
    printed = "".join(f"line {n} of a lot of output\n" for n in range(1, 6001))
    kept_lines = printed.encode()[:100_000].decode().splitlines()
    assert replies[1:4] == [f"> {line.strip()}" for line in kept_lines[-3:]]
    assert replies[4].startswith(f"{len(kept_lines) - 3} more line(s); full output (cut at "
                                 "max_output_bytes): https://bot.example/runs/")
    kept = artifact(tmp_path, replies[4].replace("https://bot.example/runs/", ""))
    assert "line 1 of a lot of output\n" in kept and "# truncated: True" in kept
    assert len(kept.split("\n\n", 1)[1].encode()) == 100_000


def test_secrets_are_masked_in_chat_the_artifact_and_the_audit_trail(
        univac_bot, tmp_path: Path) -> None:
    token = tmp_path / "api-token"
    token.write_text("tk-9f8e7d6c5b4a\n")
    bot = make_bot(univac_bot, tmp_path, chat_lines=20,
                   secret_files={"staging": {"API_TOKEN": str(token)}})
    replies = bot.ask("!runbook run show-env", sender="alice")
    assert "> API_TOKEN=***" in replies
    assert not any("tk-9f8e7d6c5b4a" in line for line in replies)
    kept = artifact(tmp_path, replies[-1])
    assert "API_TOKEN=***" in kept and "tk-9f8e7d6c5b4a" not in kept
    trail = (tmp_path / "state" / "audit.jsonl").read_text()
    assert "tk-9f8e7d6c5b4a" not in trail and '"outcome": "ok"' in trail


def test_a_missing_secret_fails_the_run_with_the_reason(univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    assert bot.ask("!runbook run show-env", sender="alice") == [
        "show-env cannot start: secret API_TOKEN is not configured for staging"]
    assert outcomes(tmp_path) == ["requested", "failed"]


def test_prod_runs_only_the_promoted_version(univac_bot, tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    bot = make_bot(univac_bot, tmp_path, catalogue=root)
    refused = bot.ask("!runbook run escalate prod", sender="alice")
    assert refused[0].startswith("escalate version ") and "not promoted to prod" in refused[0]
    version = catalogues.load(root).get("escalate").version
    promotion.add(root, promotion.Promotion("escalate", "prod", version, "alice", "now",
                                            "https://ci.example/runs/9"))
    assert bot.ask("!runbook run escalate prod", sender="alice")[0].startswith(
        "escalate in prod: ok")
    assert bot.ask("!runbook show escalate")[-1] == (
        "prod: promoted by alice at now (evidence https://ci.example/runs/9)")
    path = root / "escalate.yaml"
    path.write_text(path.read_text().replace("paging the owners", "paging everyone"))
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert "not promoted to prod" in bot.ask("!runbook run escalate prod", sender="alice")[0]
    assert bot.ask("!runbook show escalate")[-1] == (
        f"prod: this version is not promoted; version {version} was, by alice")


def test_a_step_changed_while_waiting_for_approval_does_not_run(
        univac_bot, tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    bot = make_bot(univac_bot, tmp_path, catalogue=root)
    chat = Chat(bot)
    chat.start("!runbook run clear-cache", "alice")
    chat.wait_for("Approval needed")
    path = root / "cache.yaml"
    path.write_text(path.read_text().replace("timeout_s: 30", "timeout_s: 31"))
    os.utime(path, (time.time() + 5, time.time() + 5))
    chat.ask("!approve 1", "carol")
    assert chat.wait_for("clear-cache changed while waiting for approval; ask again.")
    assert "started" not in outcomes(tmp_path)


def test_one_run_of_a_step_at_a_time_per_environment(univac_bot, tmp_path: Path) -> None:
    pid_file = tmp_path / "hold.pid"
    bot = make_bot(univac_bot, tmp_path, variables={"staging": {"PID_FILE": str(pid_file)}})
    chat = Chat(bot)
    chat.start("!runbook run hold", "alice")
    wait_for(pid_file.exists, timeout=30, what="the held step to start")
    run = next(r["run"] for r in audit(tmp_path) if r["outcome"] == "started")
    assert chat.ask("!runbook run hold", "carol") == [
        f"hold is already running in staging (run {run}, by test:alice); one run at a time."]
    os.killpg(int(pid_file.read_text()), signal.SIGTERM)
    assert chat.wait_for("hold in staging: failed (exit -15")
    bot.wait()
    assert "busy" in outcomes(tmp_path)
    pid_file.unlink()
    chat.start("!runbook run hold", "carol")
    wait_for(pid_file.exists, timeout=30, what="the second run to start")
    os.killpg(int(pid_file.read_text()), signal.SIGTERM)
    assert wait_for(lambda: outcomes(tmp_path).count("failed") == 2, timeout=30)


def test_a_manual_override_is_recorded_and_counted(univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    version = catalogues.load(CATALOGUE).get("verify-cache").version
    assert bot.ask("!runbook override clear-cache prod flushed it from the console",
                   sender="alice") == [
        "Recorded: clear-cache in prod was handled by hand (flushed it from the console).",
        f"Next (on success): verify-cache: Check the cache answers - verify-cache version "
        f"{version} is not promoted to prod; promote it with 'univac runbook promote' and "
        "evidence first.",
    ]
    (record,) = audit(tmp_path)
    assert (record["outcome"], record["reason"], record["environment"]) == (
        "manual_override", "flushed it from the console", "prod")
    assert counter(bot, "cache", "clear-cache", "manual_override") == 1
    assert bot.ask("!runbook override clear-cache", sender="alice") == [
        "Say why: runbook override <id> [env] <reason>"]
    assert bot.ask("!runbook override clear-cache oops", sender="mallory") == [
        "You need the 'ops' role to record an override."]


def test_next_without_a_flow_says_so(univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path)
    assert bot.ask("!runbook next") == [
        "Nothing to follow here: no alert and no run in this channel yet."]


def test_bad_settings_disable_the_plugin_with_every_reason(univac_bot, tmp_path: Path) -> None:
    bot = univac_bot("runbooks", settings={"runbooks": {
        "catalogue": "steps", "artifacts_dir": str(tmp_path), "environments": ["prod", "a/b"],
        "secret_files": {"prod": {"TOKEN": "token.txt"}}, "default_timeout_s": 7200.0}})
    reasons = json.dumps(bot.errors)
    assert "'steps' must be an absolute path" in reasons
    assert "use letters, digits, '.', '_' and '-': a/b" in reasons
    assert "give absolute paths: TOKEN" in reasons
    assert "must not be above max_timeout_s" in reasons
    missing = univac_bot("runbooks", settings={"runbooks": {
        "catalogue": str(tmp_path / "none"), "artifacts_dir": str(tmp_path)}})
    assert "is not a folder" in json.dumps(missing.errors)


def test_a_missing_work_dir_fails_the_run_naming_the_folder(univac_bot, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    bot = make_bot(univac_bot, tmp_path, work_dir=str(missing))
    assert bot.ask("!runbook run fails", sender="alice") == [
        f"fails cannot start: No such file or directory: {missing}"]
    assert outcomes(tmp_path) == ["requested", "started", "failed"]


def test_a_step_left_out_for_a_problem_says_which(univac_bot, tmp_path: Path) -> None:
    bot = make_bot(univac_bot, tmp_path, catalogue=BROKEN)
    assert bot.ask("!runbook run missing-command", sender="alice") == [
        "missing-command is left out of the catalogue: steps.yaml:25: missing-command: "
        "error: command: missing"]
    assert bot.ask("!runbook show bad-regex")[0].endswith(
        "(and 1 more; univac runbook lint names them)")
    assert bot.ask("!runbook run no-such-step", sender="alice") == [
        "There is no step no-such-step; runbook list shows them"]
    assert outcomes(tmp_path) == []
