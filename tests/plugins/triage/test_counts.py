"""The plugin's counts: kept by the core (ctx.count, ctx.gauge, ctx.observe) and read back
for /debug and !triage; and the benchmark script still runs (``benchmarks/triage.py
--quick``, no timing checks)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "triage.py"


def test_counts_go_to_the_core_and_are_read_back(make_triage) -> None:
    triage = make_triage()
    counts = triage.rt.counts
    counts.count("triage_label_changes", rule="teams", change="removed")
    counts.count("triage_label_changes", 2, rule="teams", change="removed")
    counts.gauge("triage_issues_tracked", 12)
    counts.observe("triage_api_call_seconds", 0.25, method="GET")
    published = triage.harness.bot.metrics().plugins
    assert published.values[("triage_label_changes", ("removed", "teams"))] == 3
    assert published.values[("triage_issues_tracked", ())] == 12
    assert published.histograms[("triage_api_call_seconds", ("GET",))].count == 1
    assert published.families["triage_label_changes"].plugin == "triage"
    assert counts.get("triage_label_changes", rule="teams", change="removed") == 3
    assert counts.get("triage_api_call_seconds", method="GET") == 1
    lines = counts.lines()
    assert 'triage_label_changes{change="removed",rule="teams"} 3' in lines
    assert 'triage_api_call_seconds{method="GET"} 1 in 0.250 s' in lines
    assert lines == sorted(lines)
    with pytest.raises(ValueError, match="not declared"):
        counts.count("triage_label_changes", rule="teams")
    with pytest.raises(ValueError, match="not declared"):
        counts.observe("triage_api_calls", 1.0, method="GET")


def test_github_calls_are_counted_and_timed(make_triage, github) -> None:
    github.add(1)
    triage = make_triage()
    triage.tick("background_update")  # the team, the highest number, #1 and its timeline
    assert triage.rt.counts.get("triage_api_calls", method="GET") == 4
    assert triage.rt.counts.get("triage_api_call_seconds", method="GET") == 4


def test_the_debug_page_and_the_command_show_the_counts(make_triage) -> None:
    triage = make_triage()
    triage.deliver("ping", {})
    assert "counts: triage_deliveries{outcome=\"ping\"} 1" in " ".join(
        triage.harness.ask("!triage"))
    assert triage.harness.ask("!triage 99") == ["#99 is not an open issue I track."]


def test_quick_benchmark_runs() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True,
                          text=True, timeout=600, cwd=SCRIPT.parents[1])
    assert done.returncode == 0, done.stderr
    assert re.search(r"^RSS growth, 500 issues \(MB\)\s+[\d.]+", done.stdout, re.M), done.stdout
    assert re.search(r"^webhook applied, p99 \(ms\)\s+[\d.]+", done.stdout, re.M)
