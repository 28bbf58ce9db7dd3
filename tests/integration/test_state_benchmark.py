"""The state benchmark still runs: ``benchmarks/state.py --quick`` (no timing checks)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "state.py"


def test_quick_state_benchmark_prints_every_store_and_the_target() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True,
                          text=True, timeout=300, cwd=SCRIPT.parents[1])
    assert done.returncode == 0, done.stderr
    assert re.search(r"^store\s+10 keys\s+1,000 keys\s+largest/10$", done.stdout, re.M)
    for store in ("json", "sqlite", "postgres"):
        assert re.search(rf"^{store}\s+\d+\.\d\d \[", done.stdout, re.M), done.stdout
    assert re.search(r"^target: sqlite at 1,000 keys <= 2x at 10 keys: ", done.stdout, re.M)
