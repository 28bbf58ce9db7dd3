"""The tutorial's files work as the tutorial says: they are extracted and tested."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
BLOCK = re.compile(r"<!-- file: (\S+) -->\n```python\n(.*?)```", re.S)


def test_tutorial_plugins_and_tests_pass(tmp_path: Path) -> None:
    files = BLOCK.findall(TUTORIAL.read_text(encoding="utf-8"))
    assert {name for name, _ in files} >= {"myplugins/hello.py", "tests/test_hello.py"}
    for name, code in files:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_hello_is_about_ten_lines() -> None:
    files = dict(BLOCK.findall(TUTORIAL.read_text(encoding="utf-8")))
    assert len(files["myplugins/hello.py"].strip().splitlines()) <= 10
