"""The full output of each run, kept as a file (chat shows only its last lines).

Any thread. One file per run in ``<artifacts_dir>/runs``: a header (step, version,
environment, run, command, who, result) and the output as captured (secrets masked),
created with mode 0600 and never overwritten. Past ``keep_artifacts`` files, the oldest
are removed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path


def write(folder: Path, when: datetime, run: str, step: str, environment: str,
          header: Mapping[str, object], output: str) -> str:
    """Write the artifact of one run; return its file name."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{when:%Y%m%dT%H%M%SZ}-{step}-{environment}-{run}.log"
    lines = [f"# {key}: {value}" for key, value in header.items()]
    text = "\n".join(lines) + "\n\n" + output
    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    return name


def prune(folder: Path, keep: int) -> int:
    """Remove the oldest artifacts past ``keep``; return how many went."""
    try:
        names = sorted(p for p in folder.iterdir() if p.suffix == ".log")
    except OSError:
        return 0
    gone = 0
    for path in names[: max(0, len(names) - keep)]:
        try:
            path.unlink()
            gone += 1
        except OSError:
            continue
    return gone


def tail(output: str, count: int) -> tuple[list[str], int]:
    """The last ``count`` non-empty lines, and how many lines came before them."""
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-count:], max(0, len(lines) - count)
