"""Fixtures of the triage tests: the fake GitHub, a bot with the plugin, a clock."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.github_fake import FakeGitHub
from univac import WebhookRequest, WebhookResponse
from univac.kit import webhook as hooks
from univac.plugins.triage import runtime

FIXTURES = Path(__file__).parent.parent / "fixtures" / "triage"
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SECRET = "It's a Secret to Everybody"
TEAM = ["alice", "bob", "carol"]


class Clock:
    """The bot's clock in a test: set it, or move it on."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    fake.teams[("acme", "hackers")] = list(TEAM)
    yield fake
    fake.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Triage:
    """A harness with the triage plugin, and shortcuts to its parts."""

    def __init__(self, harness: Any, clock: Clock, github: FakeGitHub) -> None:
        self.harness = harness
        self.clock = clock
        self.github = github
        self.routes = {route.path: route for route in harness.bot.webhooks()}

    @property
    def rt(self) -> runtime.Runtime:
        return runtime.of(self.harness.bot.contexts["triage"])

    def deliver(self, event: str, payload: dict[str, Any] | bytes,
                headers: dict[str, str] | None = None) -> WebhookResponse:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        given = {"X-GitHub-Event": event, "X-GitHub-Delivery": str(uuid.uuid4()),
                 "X-Hub-Signature-256": hooks.sign(SECRET, body)} | (headers or {})
        given = {k: v for k, v in given.items() if v is not None}
        return self.routes["/triage"].call(WebhookRequest("POST", "/triage", given, body))

    def touch(self, number: int, sender: str = "alice", action: str = "edited",
              label: str = "") -> None:
        """Deliver an ``issues`` event for the fake's issue ``number`` as it is now."""
        issue = self.github.issue_json(self.github.issues[number])
        payload = {"action": action, "issue": issue, "sender": {"login": sender},
                   "repository": {"full_name": "acme/rocket"}}
        if label:
            payload["label"] = {"name": label}
        reply = self.deliver("issues", payload)
        assert reply.status == 200, reply.body

    def labels(self, number: int) -> list[str]:
        return list(self.github.issues[number].labels)

    def comments(self, number: int) -> list[str]:
        return [comment["body"] for comment in self.github.issues[number].comments]

    def tick(self, poller: str, now: datetime | None = None) -> list[tuple[str, str]]:
        when = now or self.clock.now
        self.clock.now = when
        return self.harness.tick(f"triage.{poller}", now=when)

    def issue(self, number: int) -> Any:
        return self.rt.model.get(number)


@pytest.fixture
def make_triage(univac_bot, github: FakeGitHub, clock: Clock):
    def make(state_dir: Path | None = None, **settings: Any) -> Triage:
        table = {"repo": "acme/rocket", "team": "hackers", "api_url": github.base,
                 "token": "personal-token", "targets": ["test:#triage"]} | settings
        table = {key: value for key, value in table.items() if value is not None}
        options: dict[str, Any] = {"clock": clock, "settings": {"triage": table}}
        if state_dir is not None:
            options["state_dir"] = state_dir
        return Triage(univac_bot("triage", **options), clock, github)

    return make


def fixture(name: str, **changes: Any) -> dict[str, Any]:
    """A recorded payload from fixtures/triage/, with top-level keys replaced."""
    payload = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return payload | changes


def seconds(moment: datetime) -> int:
    return int(moment.timestamp())
