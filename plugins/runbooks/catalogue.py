"""The catalogue: YAML files of steps in a folder (a git checkout), read and checked.

Pure functions and frozen values; any thread (the bot's handlers, the CLI). A file holds
one step (a mapping) or a list of steps (yamlfile.py reads it safely); each step is
checked against the schema (schema.py) and left out with its problems named (file,
line, step id) when it does not pass. ``promotions.yaml`` at the root holds the
promotions (promotion.py), not steps. Each step's version is the SHA-256 of its content
(the parsed YAML, so comments and layout do not count).

``Loaded`` keeps the last catalogue read from a folder and reads it again only when a
file changed (a ``git pull`` takes effect at the next command).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import promotion, yamlfile
from .promotion import Promotions
from .schema import Problem, Step, parse_step

VARIABLE_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Catalogue:
    """The valid steps of a folder, in file order, and the problems found reading it."""

    root: Path
    steps: dict[str, Step]
    problems: tuple[Problem, ...] = ()
    commit: str = ""
    """The checkout's commit (``git rev-parse HEAD``), with ``+changes`` when it is dirty."""
    promotions: Promotions = field(default_factory=Promotions)

    def get(self, step_id: str) -> Step | None:
        return self.steps.get(step_id)

    def matching(self, service: str, text: str) -> list[Step]:
        """Steps of ``service`` (any service when empty) with a symptom found in ``text``.

        A symptom matches when it occurs in the text, ignoring case; the steps with the
        most matching symptoms come first, then catalogue order.
        """
        lowered = text.casefold()
        found = []
        for order, step in enumerate(self.steps.values()):
            if service and step.service.casefold() != service.casefold():
                continue
            hits = sum(1 for symptom in step.symptoms if symptom.casefold() in lowered)
            if hits:
                found.append((-hits, order, step))
        return [step for _, _, step in sorted(found, key=lambda item: item[:2])]


def step_files(root: Path) -> list[Path]:
    """The YAML files of the catalogue, sorted; hidden files and folders left out (and
    not walked: ``.git`` holds thousands of files, and this runs at every command)."""
    found = []
    for folder, folders, files in os.walk(root):
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in files:
            path = Path(folder, name)
            if not name.startswith(".") and path.suffix in (".yaml", ".yml") and \
                    path.is_file() and path.relative_to(root).as_posix() != promotion.FILE:
                found.append(path)
    return sorted(found)


def fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    """What changes when a file of the catalogue changes: (name, mtime, size) of each."""
    stamps = []
    for path in [*step_files(root), root / promotion.FILE]:
        try:
            stat = path.stat()
        except OSError:
            continue
        stamps.append((path.as_posix(), stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


def load(root: Path) -> Catalogue:
    """Read every step file under ``root``; problems are collected, never raised."""
    if not root.is_dir():
        return Catalogue(root, {}, (Problem(str(root), 0, "", "error", "not a folder"),))
    problems: list[Problem] = []
    read: list[tuple[str, str, int, Step | None]] = []
    for path in step_files(root):
        read += read_file(path, path.relative_to(root).as_posix(), problems)
    places: dict[str, list[str]] = {}
    for step_id, file, line, _ in read:
        places.setdefault(step_id, []).append(f"{file}:{line}")
    steps: dict[str, Step] = {}
    for step_id, file, line, step in read:
        if len(places[step_id]) > 1 and places[step_id][0] != f"{file}:{line}":
            problems.append(Problem(file, line, step_id, "error",
                                    f"duplicate id (also at {places[step_id][0]})"))
        elif step is not None and len(places[step_id]) == 1:
            steps[step_id] = step
    promotions = promotion.read(root)
    return Catalogue(root, steps, (*problems, *promotions.problems), git_commit(root),
                     promotions)


def read_file(path: Path, name: str,
              problems: list[Problem]) -> list[tuple[str, str, int, Step | None]]:
    """(id, file, line, the step or None when invalid) of each step of one file with an
    id; its problems are appended to ``problems``."""
    try:
        document = yamlfile.read(path)
    except yamlfile.BadFile as bad:
        problems.append(Problem(name, bad.line, "", "error", bad.reason))
        return []
    node, data = document.node, document.data
    if node is None:
        problems.append(Problem(name, 0, "", "warning", "empty file"))
        return []
    if not isinstance(data, list | dict):
        problems.append(Problem(name, node.start_mark.line + 1, "", "error",
                                "expected a step (a mapping) or a list of steps"))
        return []
    items = list(zip(node.value, data, strict=True)) if isinstance(data, list) \
        else [(node, data)]
    steps: list[tuple[str, str, int, Step | None]] = []
    for item_node, item in items:
        line = item_node.start_mark.line + 1
        step, found = parse_step(item, name, line, version_of(item))
        step_id = item.get("id") if isinstance(item, dict) else None
        twice = [Problem(name, at, str(step_id or ""), "error", f"key '{key}' is given twice")
                 for at, key in yamlfile.duplicate_keys(item_node)]
        problems.extend(found + twice)
        if isinstance(step_id, str) and step_id:
            steps.append((step_id, name, line, None if twice else step))
    return steps


def version_of(data: Any) -> str:
    """The step's version: the first 16 hex digits of the SHA-256 of its content."""
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def git_commit(root: Path) -> str:
    """The checkout's commit, ``+changes`` when files differ from it; empty without git."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=10, check=False, stdin=subprocess.DEVNULL)
        return done.stdout.strip() if done.returncode == 0 else ""

    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        dirty = commit and git("status", "--porcelain", "--", ".")
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{commit}+changes" if dirty else commit


def references(arguments: Iterable[str]) -> list[str]:
    """The variables an argument list names as ``${NAME}``, in order."""
    return [m.group(1) for argument in arguments for m in VARIABLE_REFERENCE.finditer(argument)]


def substitute(arguments: Iterable[str], values: Mapping[str, str]) -> list[str]:
    """Each ``${NAME}`` replaced by its value; KeyError names a missing one."""
    return [VARIABLE_REFERENCE.sub(lambda m: values[m.group(1)], a) for a in arguments]


class Loaded:
    """The catalogue of one folder, read again when one of its files changed.

    Shared by the plugin's handlers (any thread): a lock around the check and the read.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self._catalogue = Catalogue(root, {})

    @property
    def last(self) -> Catalogue:
        """The catalogue as last read, without looking at the files (quick, any thread)."""
        return self._catalogue

    def current(self) -> tuple[Catalogue, bool]:
        """The catalogue, and whether it was read again just now."""
        with self._lock:
            stamp = fingerprint(self.root)
            if stamp == self._stamp:
                return self._catalogue, False
            self._catalogue, self._stamp = load(self.root), stamp
            return self._catalogue, True
