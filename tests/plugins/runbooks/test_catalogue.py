"""The catalogue: reading steps safely, the schema, versions, lint, promotions, simulate."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.plugins.runbooks.helpers import BROKEN, CATALOGUE, copy_catalogue
from univac.plugins.runbooks import catalogue as catalogues
from univac.plugins.runbooks import promotion, yamlfile
from univac.plugins.runbooks.lint import lint
from univac.plugins.runbooks.settings import Settings
from univac.plugins.runbooks.simulate import simulate


def defaults(root: Path, **overrides) -> Settings:
    return Settings(catalogue=str(root), **overrides)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_fixture_catalogue_reads_without_problems() -> None:
    catalogue = catalogues.load(CATALOGUE)
    assert catalogue.problems == ()
    step = catalogue.get("clear-cache")
    assert step is not None
    assert step.command == ("scripts/say.sh", "OK", "(empty list or set)")
    assert [(e.pattern.pattern, e.allow_failure) for e in step.expect] == [
        ("OK", False), ("(empty list or set)", True)]
    assert step.safety.requires_approval and step.safety.approvals == 1
    assert step.safety.scopes == ("staging", "prod")
    assert (step.next.success, step.next.failure) == ("verify-cache", "escalate")
    assert (step.file, step.line) == ("cache.yaml", 2)
    assert catalogues.load(CATALOGUE).get("verify-cache").env["prod"] == {
        "REDIS_HOST": "redis.prod"}


def test_a_file_holds_one_step_or_a_list(tmp_path: Path) -> None:
    write(tmp_path, "one.yaml", "id: one\nservice: s\ncommand: x\nsafety: {scopes: [prod]}\n")
    write(tmp_path, "two.yml", "- id: a\n  service: s\n  command: x\n  safety: {scopes: [prod]}\n"
                               "- id: b\n  service: s\n  command: x\n  safety: {scopes: [prod]}\n")
    write(tmp_path, "notes.txt", "not a step")
    loaded = catalogues.load(tmp_path)
    assert list(loaded.steps) == ["one", "a", "b"]
    assert loaded.get("b").line == 5


def test_a_safe_for_automation_step_needs_no_approval_by_default(tmp_path: Path) -> None:
    write(tmp_path, "s.yaml", "id: s\nservice: s\ncommand: x\n"
                              "safety: {safe_for_automation: true, scopes: [prod]}\n")
    write(tmp_path, "t.yaml", "id: t\nservice: s\ncommand: x\nsafety: {scopes: [prod]}\n")
    loaded = catalogues.load(tmp_path)
    assert not loaded.get("s").needs_approval
    assert loaded.get("t").needs_approval


def test_the_version_follows_the_content_not_the_layout(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "id: a\nservice: s\ncommand: [x, y]\n"
                                     "safety: {scopes: [prod]}\n")
    first = catalogues.load(tmp_path).get("a").version
    write(tmp_path, "a.yaml", "# a comment\nid: a\nservice: s\ncommand:\n  - x\n  - y\n"
                              "safety:\n  scopes: [prod]\n")
    assert catalogues.load(tmp_path).get("a").version == first
    path.write_text("id: a\nservice: s\ncommand: [x, z]\nsafety: {scopes: [prod]}\n")
    assert catalogues.load(tmp_path).get("a").version != first


def test_anchors_and_aliases_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "bomb.yaml", "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n")
    with pytest.raises(yamlfile.BadFile, match="anchors and aliases"):
        yamlfile.read(tmp_path / "bomb.yaml")
    problems = catalogues.load(tmp_path).problems
    assert [(p.file, p.level) for p in problems] == [("bomb.yaml", "error")]


def test_the_safe_loader_builds_no_python_objects(tmp_path: Path) -> None:
    write(tmp_path, "evil.yaml", "id: !!python/object/apply:os.system ['true']\n")
    (problem,) = catalogues.load(tmp_path).problems
    assert problem.file == "evil.yaml" and "not valid YAML" in problem.reason


def test_the_broken_catalogue_names_every_problem_with_file_step_and_reason() -> None:
    loaded = catalogues.load(BROKEN)
    found = {(p.file, p.line, p.step): p.reason for p in lint(loaded, defaults(BROKEN))}
    assert "bad regular expression '([unclosed'" in found["steps.yaml", 2, "bad-regex"]
    assert "unknown environment 'qa'" in found["steps.yaml", 9, "unknown-scope"]
    assert "'nowhere-step', which is not a step" in found["steps.yaml", 14, "dangling-next"]
    assert "not found on PATH" in found["steps.yaml", 20, "not-on-path"]
    assert found["steps.yaml", 25, "missing-command"] == "command: missing"
    assert "No closing quotation" in found["steps.yaml", 29, "unbalanced"]
    assert found["steps.yaml", 34, "bad-regex"] == "duplicate id (also at steps.yaml:2)"
    assert "did you mean 'command'" in found["steps.yaml", 39, "typo-key"]
    assert "safety.scopes: missing" in found["steps.yaml", 45, "no-scopes"]
    assert "contradicts" in found["steps.yaml", 50, "automation-and-approval"]
    assert "is a secret" in found["steps.yaml", 55, "secret-in-argument"]
    assert "expected ',' or ']'" in found["syntax.yaml", 4, ""]
    assert found["twice.yaml", 4, "twice"] == "key 'command' is given twice"
    levels = {p.step: p.level for p in lint(loaded, defaults(BROKEN))}
    assert levels["not-on-path"] == "warning" and levels["dangling-next"] == "error"
    assert "twice" not in loaded.steps and "bad-regex" not in loaded.steps


def test_lint_knows_the_environments_it_is_given() -> None:
    loaded = catalogues.load(CATALOGUE)
    qa_only = defaults(CATALOGUE, environments=("qa",), default_environment="qa",
                       alert_environment="qa", promoted_environments=())
    reasons = [p.reason for p in lint(loaded, qa_only) if p.step == "escalate"]
    assert sorted(reasons) == ["safety.scopes: unknown environment 'prod' (known: qa)",
                               "safety.scopes: unknown environment 'staging' (known: qa)"]


def test_a_missing_script_of_the_catalogue_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "s.yaml", "id: s\nservice: s\ncommand: scripts/gone.sh\n"
                              "safety: {scopes: [prod]}\n")
    (problem,) = lint(catalogues.load(tmp_path), defaults(tmp_path))
    assert problem.level == "error" and "not an executable file of the catalogue" in \
        problem.reason


def test_a_command_may_not_leave_the_catalogue_through_a_relative_path(tmp_path: Path) -> None:
    write(tmp_path, "s.yaml", "id: s\nservice: s\ncommand: ../../bin/sh\n"
                              "safety: {scopes: [prod]}\n")
    (problem,) = lint(catalogues.load(tmp_path), defaults(tmp_path))
    assert problem.level == "error"


def test_promotions_are_kept_in_a_file_beside_the_steps(tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    step = catalogues.load(root).get("clear-cache")
    record = promotion.Promotion("clear-cache", "prod", step.version, "alice",
                                 "2026-11-22T21:00:00+00:00", "https://ci.example/7")
    promotion.add(root, record)
    loaded = catalogues.load(root)
    assert loaded.promotions.of("clear-cache", "prod", step.version) == record
    assert "clear-cache" in loaded.steps and loaded.problems == ()
    assert "# Promotions of runbook steps" in (root / "promotions.yaml").read_text()


def test_lint_warns_when_a_change_leaves_the_promoted_version_behind(tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    version = catalogues.load(root).get("escalate").version
    promotion.add(root, promotion.Promotion("escalate", "prod", version, "alice", "now",
                                            "https://ci.example/1"))
    assert lint(catalogues.load(root), defaults(root)) == []
    text = (root / "escalate.yaml").read_text().replace("paging the owners", "paging owners")
    (root / "escalate.yaml").write_text(text)
    (problem,) = lint(catalogues.load(root), defaults(root))
    assert problem.step == "escalate" and problem.level == "warning"
    assert f"changed since version {version} was promoted to prod" in problem.reason


def test_a_bad_promotions_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    write(root, "promotions.yaml", "promotions:\n  - step: clear-cache\n    environment: prod\n")
    (problem,) = catalogues.load(root).problems
    assert (problem.file, problem.line) == ("promotions.yaml", 2)
    assert "missing version, by, at, evidence_url" in problem.reason


def test_the_catalogue_is_read_again_only_when_a_file_changed(tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    loaded = catalogues.Loaded(root)
    first, reread = loaded.current()
    assert reread and "escalate" in first.steps
    assert loaded.current() == (first, False)
    path = root / "escalate.yaml"
    path.write_text(path.read_text().replace("id: escalate", "id: escalate-now"))
    later = time.time() + 5
    os.utime(path, (later, later))
    second, reread = loaded.current()
    assert reread and "escalate-now" in second.steps and "escalate" not in second.steps


def test_symptoms_match_alert_text_best_first() -> None:
    loaded = catalogues.load(CATALOGUE)
    assert [s.id for s in loaded.matching("disk", "DiskFull on /var: no space left")] == [
        "collect-diagnostics", "wipe-tmp"]
    assert [s.id for s in loaded.matching("CACHE", "redismemoryhigh")] == ["clear-cache"]
    assert loaded.matching("web", "RedisMemoryHigh") == []


def test_simulate_follows_the_flow_through_the_given_outputs() -> None:
    loaded = catalogues.load(CATALOGUE)
    result = simulate(loaded, defaults(CATALOGUE), "cache", "RedisMemoryHigh", "staging",
                      {"clear-cache": "OK\n", "verify-cache": "connection refused\n"})
    text = "\n".join(result.lines)
    assert result.offered == 3
    assert "1. clear-cache: Clear the Redis cache (offered first)" in text
    assert "needs 1 approval from 'approvers' (not the requester)" in text
    assert "expect 'OK': matches" in text
    assert "expect '(empty list or set)': no match (allowed to fail)" in text
    assert "result: ok -> next: verify-cache" in text
    assert "expect '^PONG': no match" in text
    assert "result: expect_failed -> next: escalate" in text
    assert "no output given (--output escalate=FILE): the flow stops here" in text
    assert "in staging: allowed" in text and "loop" not in text


def test_simulate_names_refusals_in_the_environment() -> None:
    loaded = catalogues.load(CATALOGUE)
    text = "\n".join(simulate(loaded, defaults(CATALOGUE), "disk", "DiskFull", "prod",
                              {}).lines)
    assert "collect-diagnostics" in text and "is not promoted to prod" in text
    assert "Also matching, offered if asked: wipe-tmp" in text


def test_step_files_leave_out_hidden_files_folders_and_promotions(tmp_path: Path) -> None:
    root = copy_catalogue(tmp_path)
    for folder in (".git/refs", "sub/.cache", "sub/deeper"):
        (root / folder).mkdir(parents=True)
    for name in (".git/refs/step.yaml", "sub/.cache/step.yml", ".hidden.yaml",
                 "sub/deeper/z.yml", "sub/a.yaml", "sub/notes.txt", promotion.FILE):
        write(root, name, "")
    (root / "sub" / "folder.yaml").mkdir()
    found = [path.relative_to(root).as_posix() for path in catalogues.step_files(root)]
    assert found == ["cache.yaml", "diagnostics.yaml", "escalate.yaml", "sub/a.yaml",
                     "sub/deeper/z.yml", "tools.yaml"]
