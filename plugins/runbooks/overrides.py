"""The overrides report: the steps that most often needed a human, from the audit trail.

Runs in ``univac runbook overrides`` (no bot). Reads the audit file and its rotated
copies (``audit.jsonl``, ``audit.jsonl.1``, ...), keeps the ``runbook`` records of the
period, and counts per step the results that needed a human: ``denied``, ``timed_out``
(nobody approved in time, or the command ran out of time), ``expect_failed`` and
``manual_override``; beside them ``failed``, the runs that ended well, and the runs
``interrupted`` (a ``started`` record and no result: the bot died during the step).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HUMAN = ("denied", "timed_out", "expect_failed", "manual_override")
RESULTS = ("ok", "failed", *HUMAN, "refused_scope")
PERIOD = re.compile(r"(\d+)\s*([smhdw])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def period(text: str) -> timedelta:
    """``30d``, ``12h``, ``2w``, ``90m``, ``45s`` as a timedelta; ValueError otherwise."""
    found = PERIOD.fullmatch(text.strip())
    if not found:
        raise ValueError(f"{text!r} is not a period such as 30d, 12h, 2w")
    return timedelta(**{UNITS[found.group(2)]: int(found.group(1))})


@dataclass
class Row:
    """The counts of one step."""

    step: str
    service: str = ""
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def needed(self) -> int:
        return sum(self.counts[result] for result in HUMAN)


@dataclass
class Report:
    rows: list[Row]
    since: datetime
    records: int
    unreadable: int


def files(audit: Path) -> list[Path]:
    """The audit file and its rotated copies, oldest first."""
    rotated = sorted((p for p in audit.parent.glob(audit.name + ".*") if p.suffix[1:].isdigit()),
                     key=lambda p: int(p.suffix[1:]), reverse=True)
    return [*rotated, *([audit] if audit.exists() else [])]


def records(paths: Iterable[Path]) -> Iterator[dict[str, Any] | None]:
    """Each line's record; None for a line that is not a JSON object."""
    for path in paths:
        with path.open(encoding="utf-8", errors="replace") as file:
            for line in file:
                try:
                    value = json.loads(line)
                except ValueError:
                    yield None
                    continue
                yield value if isinstance(value, dict) else None


def report(audit: Path, since: datetime) -> Report:
    """Count the results of each step since ``since`` (UTC)."""
    rows: dict[str, Row] = {}
    started: dict[str, str] = {}
    ended: set[str] = set()
    counted = unreadable = 0
    for record in records(files(audit)):
        if record is None:
            unreadable += 1
            continue
        if record.get("action") != "runbook" or record.get("plugin") != "runbooks" or \
                _when(record) < since:
            continue
        counted += 1
        step = str(record.get("step", "?"))
        row = rows.setdefault(step, Row(step))
        row.service = str(record.get("service", row.service))
        outcome, run = str(record.get("outcome", "")), str(record.get("run", ""))
        if outcome == "started":
            started[run] = step
        elif outcome in RESULTS:
            row.counts[outcome] += 1
            ended.add(run)
    for run, step in started.items():
        if run not in ended:
            rows[step].counts["interrupted"] += 1
    ordered = sorted(rows.values(), key=lambda r: (-r.needed, -sum(r.counts.values()), r.step))
    return Report(ordered, since, counted, unreadable)


def _when(record: dict[str, Any]) -> datetime:
    try:
        when = datetime.fromisoformat(str(record.get("time", "")))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


COLUMNS = ("needed", *HUMAN, "failed", "ok", "interrupted")


def table(result: Report) -> list[str]:
    """The overrides table as aligned text lines."""
    head = ["step", "service", *COLUMNS]
    body = [[row.step, row.service, str(row.needed),
             *(str(row.counts[c]) for c in COLUMNS[1:])] for row in result.rows]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
            for line in [head, *body]]


def as_json(result: Report) -> str:
    return json.dumps({
        "since": result.since.isoformat(), "records": result.records,
        "steps": [{"step": row.step, "service": row.service, "needed": row.needed}
                  | {c: row.counts[c] for c in COLUMNS[1:]} for row in result.rows],
    }, indent=2)
