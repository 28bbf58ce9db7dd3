"""The dispatch benchmark still runs: ``benchmarks/dispatch.py --quick`` (no timing checks)."""

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "dispatch.py"


def test_quick_benchmark_runs_and_sheds_nothing_in_the_burst() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True, text=True, timeout=300, cwd=SCRIPT.parents[1],
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"^metric\s+pool median\s+pool min-max\s+thread/msg", done.stdout, re.M)
    assert re.search(r"^throughput shed \(max\)\s+0\s", done.stdout, re.M), done.stdout
