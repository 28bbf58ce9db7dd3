"""Promotions: which version of a step may run in a promoted-only environment (prod).

Kept in ``promotions.yaml`` at the root of the catalogue, beside the steps it speaks of:
``univac runbook promote`` appends a record (step, environment, version, by whom, when,
the evidence URL, the catalogue's commit), and the change is reviewed and merged like
any change to the catalogue. The bot reads the file with the catalogue; a step runs in
a promoted-only environment only when its current version (the hash of its content)
has a record there. Records are never rewritten: the file is the history.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from . import yamlfile
from .schema import Problem

FILE = "promotions.yaml"
FIELDS = ("step", "environment", "version", "by", "at", "evidence_url", "commit")
HEADER = ("# Promotions of runbook steps, written by `univac runbook promote`.\n"
          "# A step runs in a promoted-only environment only in a version listed here.\n"
          "# Review changes to this file like changes to the steps themselves.\n")


@dataclass(frozen=True)
class Promotion:
    step: str
    environment: str
    version: str
    by: str
    at: str
    evidence_url: str
    commit: str = ""


@dataclass(frozen=True)
class Promotions:
    items: tuple[Promotion, ...] = ()
    problems: tuple[Problem, ...] = ()

    def of(self, step: str, environment: str, version: str) -> Promotion | None:
        """The record promoting this version of the step in the environment, if any."""
        return next((p for p in reversed(self.items) if (p.step, p.environment, p.version)
                     == (step, environment, version)), None)

    def latest(self, step: str, environment: str) -> Promotion | None:
        return next((p for p in reversed(self.items)
                     if (p.step, p.environment) == (step, environment)), None)


def read(root: Path) -> Promotions:
    """The promotions of the catalogue at ``root`` (none when there is no file)."""
    path = root / FILE
    if not path.exists():
        return Promotions()
    try:
        document = yamlfile.read(path)
    except yamlfile.BadFile as bad:
        return Promotions((), (Problem(FILE, bad.line, "", "error", bad.reason),))
    data = document.data if document.data is not None else {"promotions": []}
    items = data.get("promotions") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return Promotions((), (Problem(FILE, 1, "", "error",
                                       "expected 'promotions:' with a list of records"),))
    found, problems = [], []
    lines = _lines(document.node)
    for number, item in enumerate(items):
        line = lines[number] if number < len(lines) else 0
        record, reason = _record(item)
        if record is None:
            problems.append(Problem(FILE, line, "", "error", reason))
        else:
            found.append(record)
    return Promotions(tuple(found), tuple(problems))


def _lines(node: yaml.Node | None) -> list[int]:
    """The line of each record under the ``promotions`` key."""
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if key.value == "promotions" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _record(item: Any) -> tuple[Promotion | None, str]:
    if not isinstance(item, dict):
        return None, "expected a mapping with " + ", ".join(FIELDS)
    missing = [key for key in FIELDS[:-1] if not isinstance(item.get(key), str)]
    unknown = sorted(set(item) - set(FIELDS))
    if missing or unknown:
        parts = [f"missing {', '.join(missing)}"] if missing else []
        parts += [f"unknown {', '.join(map(str, unknown))}"] if unknown else []
        return None, "; ".join(parts)
    return Promotion(**{key: str(item.get(key, "")) for key in FIELDS}), ""


def evidence_problem(url: str) -> str:
    """Why ``url`` is not usable as evidence (an http or https URL); empty when it is."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"the evidence URL must be an http(s) URL, not {url!r}"
    return ""


def add(root: Path, promotion: Promotion) -> None:
    """Append a record to ``promotions.yaml`` (written to a new file, then renamed)."""
    path = root / FILE
    current: list[dict[str, str]] = []
    if path.exists():
        data = yamlfile.read(path).data
        if isinstance(data, dict) and isinstance(data.get("promotions"), list):
            current = data["promotions"]
    record = {key: value for key, value in asdict(promotion).items() if value}
    text = HEADER + yaml.safe_dump({"promotions": [*current, record]}, sort_keys=False,
                                   allow_unicode=True, default_flow_style=False)
    handle, temporary = tempfile.mkstemp(prefix=".promotions-", dir=root)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
