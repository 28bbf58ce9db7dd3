"""The IRC round-trip benchmark still runs and loses no reply (``--quick``; no timing checks)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "irc_roundtrip.py"

pytestmark = pytest.mark.integration


def test_irc_benchmark_quick_run_gets_every_reply() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--runs", "1",
         "--bots", "handoff,transport,floor"],
        capture_output=True, text=True, timeout=120, cwd=SCRIPT.parents[1],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert re.findall(r"^\s+replies\s+(\S+)$", done.stdout, re.M) == ["200.000"] * 3
    assert re.findall(r"^\s+lost\s+(\S+)$", done.stdout, re.M) == ["0.000"] * 3
    assert re.findall(r"^\s+chan_lost\s+(\S+)$", done.stdout, re.M) == ["0.000"] * 3
    assert re.search(r"^transport \(median of 1 runs\)", done.stdout, re.M)
    assert re.search(r"^handoff \(median of 1 runs\)", done.stdout, re.M)
    assert re.search(r"^\s+peak_threads\s+1\.000$", done.stdout, re.M)
