"""What a step is, and the check of one step's YAML mapping against that. Pure; any thread.

A step::

    id: clear-cache                  # required: letters, digits, . _ -
    title: Clear the Redis cache
    service: cache                   # required
    symptoms: [RedisMemoryHigh, "cache full"]
    command: "redis-cli -h ${REDIS_HOST} FLUSHDB"   # or a list; never run by a shell
    timeout_s: 30
    expect:
      - pattern: "^OK$"              # a regular expression searched in the output
      - pattern: "(empty list or set)"
        allow_failure: true          # not seeing it does not fail the step
    safety:
      requires_approval: true        # default: true, unless safe_for_automation
      approvals: 1
      self_approve: false
      scopes: [staging]              # required: where it may run at all
      safe_for_automation: false
    next: {success: verify-cache, failure: escalate, timed_out: escalate}
    env: {staging: {REDIS_HOST: redis.staging}}
    secrets: [REDISCLI_AUTH]         # from the plugin's secret_files, per environment
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

STEP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KEYS = ("id", "title", "description", "service", "symptoms", "command", "timeout_s", "expect",
        "safety", "next", "env", "secrets")
SAFETY_KEYS = ("requires_approval", "approvals", "self_approve", "scopes",
               "safe_for_automation")
NEXT_KEYS = ("success", "failure", "timed_out")
EXPECT_KEYS = ("pattern", "allow_failure")


@dataclass(frozen=True)
class Problem:
    """Something wrong in the catalogue: where, which step, how bad, why."""

    file: str
    line: int
    step: str
    level: str
    """``error`` or ``warning``."""
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        step = f" {self.step}:" if self.step else ""
        return f"{where}:{step} {self.level}: {self.reason}"


@dataclass(frozen=True)
class Expect:
    """A pattern the output should contain; ``allow_failure``: missing it is no failure."""

    pattern: re.Pattern[str]
    allow_failure: bool = False


@dataclass(frozen=True)
class Safety:
    requires_approval: bool = True
    approvals: int = 1
    self_approve: bool = False
    scopes: tuple[str, ...] = ()
    safe_for_automation: bool = False


@dataclass(frozen=True)
class Next:
    """The step offered after a result; ``timed_out`` falls back to ``failure``."""

    success: str = ""
    failure: str = ""
    timed_out: str = ""

    def after(self, result: str) -> str:
        if result in ("ok", "manual_override"):
            return self.success
        if result == "timed_out":
            return self.timed_out or self.failure
        return self.failure if result in ("failed", "expect_failed") else ""

    def targets(self) -> list[tuple[str, str]]:
        return [(key, getattr(self, key)) for key in NEXT_KEYS if getattr(self, key)]


@dataclass(frozen=True)
class Step:
    id: str
    service: str
    command: tuple[str, ...]
    file: str
    line: int
    version: str
    title: str = ""
    description: str = ""
    symptoms: tuple[str, ...] = ()
    timeout_s: float | None = None
    expect: tuple[Expect, ...] = ()
    safety: Safety = field(default_factory=Safety)
    next: Next = field(default_factory=Next)
    env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()

    def problem(self, reason: str, level: str = "error") -> Problem:
        return Problem(self.file, self.line, self.id, level, reason)

    @property
    def needs_approval(self) -> bool:
        return self.safety.requires_approval

    def label(self) -> str:
        return f"{self.id}: {self.title}" if self.title and self.title != self.id else self.id


class _Checker:
    """Collects the problems of one step's mapping while reading its fields."""

    def __init__(self, file: str, line: int, step: str) -> None:
        self.file, self.line, self.step = file, line, step
        self.problems: list[Problem] = []

    def error(self, reason: str, level: str = "error") -> None:
        self.problems.append(Problem(self.file, self.line, self.step, level, reason))

    def keys(self, data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                self.error(f"{where}{key}: unknown key{hint}")

    def text(self, data: Mapping[str, Any], key: str, required: bool = False) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.error(f"{key}: missing")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.error(f"{key}: expected a non-empty string")
            return ""
        return value.strip()

    def flag(self, data: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.error(f"{where}{key}: expected true or false")
            return default
        return value

    def words(self, data: Mapping[str, Any], key: str, where: str = "") -> tuple[str, ...]:
        value = data.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.error(f"{where}{key}: expected a list of strings")
            return ()
        return tuple(value)


def parse_step(data: Any, file: str, line: int, version: str) -> tuple[Step | None, list[Problem]]:
    """The step a mapping describes, or None, and every problem found in it."""
    step_id = data.get("id") if isinstance(data, dict) else None
    check = _Checker(file, line, step_id if isinstance(step_id, str) else "")
    if not isinstance(data, dict):
        check.error("expected a step (a mapping with id, service, command, ...)")
        return None, check.problems
    check.keys(data, KEYS, "")
    step_id = check.text(data, "id", required=True)
    if step_id and not STEP_ID.fullmatch(step_id):
        check.error("id: use letters, digits, '.', '_' and '-' (at most 64)")
    values = {
        "service": check.text(data, "service", required=True),
        "title": check.text(data, "title") or step_id,
        "description": check.text(data, "description"),
        "symptoms": check.words(data, "symptoms"),
        "command": _command(data.get("command"), check),
        "timeout_s": _timeout(data.get("timeout_s"), check),
        "expect": _expect(data.get("expect", []), check),
        "safety": _safety(data.get("safety"), check),
        "next": _next(data.get("next", {}), check),
        "env": _env(data.get("env", {}), check),
        "secrets": _secrets(data, check),
    }
    if any(p.level == "error" for p in check.problems):
        return None, check.problems
    return Step(id=step_id, file=file, line=line, version=version, **values), check.problems


def _command(value: Any, check: _Checker) -> tuple[str, ...]:
    if value is None:
        check.error("command: missing")
        return ()
    if isinstance(value, str):
        try:
            value = shlex.split(value)
        except ValueError as error:
            check.error(f"command: cannot split it like a shell would: {error}")
            return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        check.error("command: expected a string or a list of arguments")
        return ()
    flags = [str(v).lower() for v in value if isinstance(v, bool)]
    if flags:
        check.error(f"command: {flags[0]} is a YAML boolean here; quote it")
        return ()
    if not value or not str(value[0]).strip():
        check.error("command: empty")
        return ()
    return tuple(str(v) for v in value)


def _timeout(value: Any, check: _Checker) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        check.error("timeout_s: expected a number of seconds above 0")
        return None
    return float(value)


def _expect(value: Any, check: _Checker) -> tuple[Expect, ...]:
    if not isinstance(value, list):
        check.error("expect: expected a list of {pattern, allow_failure}")
        return ()
    found = []
    for number, item in enumerate(value, 1):
        where = f"expect[{number}]."
        if isinstance(item, str):
            item = {"pattern": item}
        if not isinstance(item, dict):
            check.error(f"expect[{number}]: expected a mapping with a pattern")
            continue
        check.keys(item, EXPECT_KEYS, where)
        text = item.get("pattern")
        if not isinstance(text, str) or not text:
            check.error(f"{where}pattern: expected a regular expression")
            continue
        try:
            pattern = re.compile(text, re.MULTILINE)
        except re.error as error:
            check.error(f"{where}pattern: bad regular expression {text!r}: {error}")
            continue
        found.append(Expect(pattern, check.flag(item, "allow_failure", False, where)))
    return tuple(found)


def _safety(value: Any, check: _Checker) -> Safety:
    if not isinstance(value, dict):
        check.error("safety: missing (a mapping with at least scopes)" if value is None
                    else "safety: expected a mapping")
        return Safety()
    check.keys(value, SAFETY_KEYS, "safety.")
    automation = check.flag(value, "safe_for_automation", False, "safety.")
    approval = check.flag(value, "requires_approval", not automation, "safety.")
    if automation and approval:
        check.error("safety: safe_for_automation steps run without approval when an alert "
                    "triggers them; requires_approval: true contradicts it")
    approvals = value.get("approvals", 1)
    if isinstance(approvals, bool) or not isinstance(approvals, int) or approvals < 1:
        check.error("safety.approvals: expected a whole number, at least 1")
        approvals = 1
    elif approvals > 1 and not approval:
        check.error("safety.approvals: has no effect without requires_approval", "warning")
    scopes = check.words(value, "scopes", "safety.")
    if not scopes and "scopes" not in value:
        check.error("safety.scopes: missing (the environments the step may run in)")
    return Safety(approval, approvals, check.flag(value, "self_approve", False, "safety."),
                  scopes, automation)


def _next(value: Any, check: _Checker) -> Next:
    if isinstance(value, str):
        return Next(success=value)
    if not isinstance(value, dict):
        check.error("next: expected a step id or {success, failure, timed_out}")
        return Next()
    check.keys(value, NEXT_KEYS, "next.")
    targets = {}
    for key in NEXT_KEYS:
        target = value.get(key)
        if target is not None and not isinstance(target, str):
            check.error(f"next.{key}: expected a step id")
        elif target:
            targets[key] = target
    return Next(**targets)


def _env(value: Any, check: _Checker) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict):
        check.error("env: expected a mapping of environment -> {VARIABLE: value}")
        return {}
    found: dict[str, dict[str, str]] = {}
    for env, variables in value.items():
        if not isinstance(variables, dict):
            check.error(f"env.{env}: expected a mapping of VARIABLE: value")
            continue
        found[str(env)] = {}
        for name, text in variables.items():
            if not VARIABLE.fullmatch(str(name)):
                check.error(f"env.{env}.{name}: not a variable name")
            elif not isinstance(text, str | int | float) or isinstance(text, bool):
                check.error(f"env.{env}.{name}: expected a string or a number")
            else:
                found[str(env)][str(name)] = str(text)
    return found


def _secrets(data: Mapping[str, Any], check: _Checker) -> tuple[str, ...]:
    names = check.words(data, "secrets")
    for name in names:
        if not VARIABLE.fullmatch(name):
            check.error(f"secrets: {name!r} is not a variable name")
    return names
