"""Announce new GitHub issues and pull requests; ``!gh owner/repo#n`` shows one.

The poller reads ``GET /repos/{owner}/{repo}/issues?state=all&sort=created`` (the REST
API lists pull requests there too), newest first, through the kit's REST watcher
(``univac.kit.rest``): conditional requests, ``Link`` pages until a seen item,
so items opened while the bot was down are announced after a restart, and the
rate-limit headers (``X-RateLimit-*``, ``Retry-After``).

Settings (``[plugins.github]``)::

    repos = ["owner/repo"]        # watched repositories
    targets = ["irc:#ops"]        # where announcements go (transport:target)
    token_file = "github.token"   # or token_env = "GITHUB_TOKEN"; optional
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import quote

from univac import Context, Target, command, every
from univac.kit import rest
from univac.kit.text import one_line
from univac.kit.watch import Item, check_watch

REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+")
GITHUB = rest.Service(
    "GitHub", {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
)


@dataclass(frozen=True)
class Settings:
    """The ``[plugins.github]`` table."""

    api_url: str = "https://api.github.com"
    token: str = ""
    repos: tuple[str, ...] = ()
    targets: tuple[Target, ...] = ()
    interval_s: float = 300.0
    per_page: int = 30
    max_pages: int = 3
    max_announce: int = 5
    reserve: int = 100
    timeout_s: float = 10.0
    max_bytes: int = 2_000_000

    def __post_init__(self) -> None:
        check_watch("repos", self.repos, REPO, "owner/repo", self.targets)
        rest.check_paging(self.interval_s, self.per_page, self.max_pages)


class IssueRef:
    """``owner/repo#n`` as typed after ``!gh``; ValueError when it is not that."""

    def __init__(self, text: str) -> None:
        repo, _, number = text.partition("#")
        if not REPO.fullmatch(repo) or not number.isdigit():
            raise ValueError("expected owner/repo#number")
        self.repo, self.number = repo, int(number)


@command("gh")
def gh(ctx: Context, ref: IssueRef) -> str:
    """Show a GitHub issue or pull request in one line: gh owner/repo#123."""
    path = f"/repos/{_quoted(ref.repo)}/issues/{ref.number}"
    issue = rest.lookup(ctx, GITHUB, path, f"{ref.repo}#{ref.number}")
    return _describe(ref.repo, issue)


@every(60)
def poll(ctx: Context) -> None:
    """Announce issues and pull requests opened since the last run."""
    settings: Settings = ctx.config
    rest.poll(ctx, GITHUB, [_source(settings, repo) for repo in settings.repos])


def _source(settings: Settings, repo: str) -> rest.Source:
    query = f"state=all&sort=created&direction=desc&per_page={settings.per_page}"
    url = f"{settings.api_url.rstrip('/')}/repos/{_quoted(repo)}/issues?{query}"
    summary = f"[{repo}] ... and {{count}} more new issues and pull requests"
    return rest.Source(repo, url, partial(_item, repo), summary)


def _item(repo: str, issue: Mapping[str, Any]) -> Item:
    kind = "pull request" if issue.get("pull_request") else "issue"
    title = one_line(str(issue.get("title", "")), 200)
    author = one_line(str((issue.get("user") or {}).get("login", "?")), 40)
    url = one_line(str(issue["html_url"]), 200)
    line = f"[{repo}] new {kind} #{issue['number']}: {title} (by {author}) {url}"
    return Item(str(issue["number"]), line)


def _describe(repo: str, issue: Mapping[str, Any]) -> str:
    pull = issue.get("pull_request") or {}
    kind = "pull request" if pull else "issue"
    state = "merged" if pull.get("merged_at") else str(issue.get("state", "?"))
    title = one_line(str(issue.get("title", "")), 200)
    author = one_line(str((issue.get("user") or {}).get("login", "?")), 40)
    url = one_line(str(issue["html_url"]), 200)
    return f"{repo}#{issue['number']} ({kind}, {state}): {title} - by {author} - {url}"


def _quoted(repo: str) -> str:
    owner, name = repo.split("/", 1)
    return f"{quote(owner, safe='')}/{quote(name, safe='')}"
