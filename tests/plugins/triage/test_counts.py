"""The plugin's counts: kept for /debug and !triage, handed to the core when it takes them;
and the benchmark script still runs (``benchmarks/triage.py --quick``, no timing checks)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from univac.plugins.triage.metrics import Counts

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "triage.py"


class PublishingContext:
    """A context of a core that lets plugins publish metrics (``ctx.count``)."""

    def __init__(self) -> None:
        self.counted: list[tuple[str, float, dict[str, str]]] = []
        self.gauged: list[tuple[str, float, dict[str, str]]] = []

    def count(self, name: str, amount: float = 1, **labels: str) -> None:
        self.counted.append((name, amount, labels))

    def gauge(self, name: str, value: float, **labels: str) -> None:
        self.gauged.append((name, value, labels))


def test_counts_are_kept_and_handed_on() -> None:
    ctx = PublishingContext()
    counts = Counts(ctx)
    counts.count("triage_label_changes", rule="teams", change="removed")
    counts.count("triage_label_changes", 2, rule="teams", change="removed")
    counts.gauge("triage_issues_tracked", 12)
    assert counts.published
    assert counts.get("triage_label_changes", rule="teams", change="removed") == 3
    assert counts.lines() == ['triage_issues_tracked 12',
                              'triage_label_changes{rule="teams",change="removed"} 3']
    assert ctx.counted[-1] == ("triage_label_changes", 2, {"rule": "teams", "change": "removed"})
    assert ctx.gauged == [("triage_issues_tracked", 12, {})]
    with pytest.raises(ValueError, match="not declared"):
        counts.count("triage_label_changes", rule="teams")


def test_counts_without_a_publishing_core() -> None:
    counts = Counts(object())
    counts.count("triage_tidy_runs")
    assert not counts.published and counts.lines() == ["triage_tidy_runs 1"]


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
