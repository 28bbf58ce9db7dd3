"""Shared pieces of the runbooks tests: fixture catalogues, a bot with two identities."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.waiting import wait_for

FIXTURES = Path(__file__).parent / "fixtures"
CATALOGUE = FIXTURES / "catalogue"
BROKEN = FIXTURES / "broken"
OUTPUTS = FIXTURES / "outputs"
ROLES = {
    "ops": {"test": ["test:alice", "test:carol", "test:dave"]},
    "approvers": {"test": ["test:alice", "test:carol", "test:dave"]},
}


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def copy_catalogue(tmp_path: Path) -> Path:
    """A copy of the fixture catalogue that a test may change."""
    target = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE, target)
    return target


def settings(tmp_path: Path, catalogue: Path = CATALOGUE, **overrides: Any) -> dict[str, Any]:
    table = {"catalogue": str(catalogue), "artifacts_dir": str(tmp_path / "artifacts"),
             "approval_ttl_s": 30.0, "alert_targets": ["test:#ops"]}
    return table | overrides


def make_bot(univac_bot, tmp_path: Path, catalogue: Path = CATALOGUE, plugins=("approvals",),
             **overrides: Any):
    return univac_bot("runbooks", *plugins, roles=ROLES, state_dir=tmp_path / "state",
                      settings={"runbooks": settings(tmp_path, catalogue, **overrides)})


def audit(tmp_path: Path, action: str = "runbook") -> list[dict[str, Any]]:
    path = tmp_path / "state" / "audit.jsonl"
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [r for r in records if not action or r["action"] == action]


def outcomes(tmp_path: Path) -> list[str]:
    return [r["outcome"] for r in audit(tmp_path)]


def counter(bot, service: str, action: str, result: str) -> float:
    """runbook_steps_executed_total{service, action, result} (labels sorted by name)."""
    values = bot.bot.metrics().plugins.values
    return values.get(("runbook_steps_executed", (action, result, service)), 0.0)


def durations(bot, service: str, action: str) -> int:
    """How many runs runbook_step_duration_seconds{service, action} has observed."""
    histograms = bot.bot.metrics().plugins.histograms
    found = histograms.get(("runbook_step_duration_seconds", (action, service)))
    return found.count if found is not None else 0


class Chat:
    """Everything the bot said in the test channel, including replies that ask() took."""

    def __init__(self, bot, where: str = "#test") -> None:
        self.bot = bot
        self.where = where
        self.seen: list[str] = []

    def ask(self, text: str, sender: str) -> list[str]:
        replies = self.bot.ask(text, sender=sender)
        self.seen.extend(replies)
        return replies

    def start(self, text: str, sender: str) -> None:
        """Deliver without waiting: the handler may wait for approvals."""
        from univac import Message

        self.bot.bot.dispatcher.deliver(Message("test", self.where, sender, text,
                                                identity=f"test:{sender}"))

    def wait_for(self, fragment: str, timeout: float = 30.0) -> str:
        def arrived() -> bool:
            self.seen.extend(text for to, text in self.bot.fakes["test"].take())
            return any(fragment in text for text in self.seen)

        wait_for(arrived, timeout=timeout, what=f"the bot to say {fragment!r}; saw {self.seen}")
        return next(text for text in self.seen if fragment in text)
