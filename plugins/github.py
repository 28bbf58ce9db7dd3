"""Announce new GitHub issues and pull requests; ``!gh owner/repo#n`` shows one.

The poller reads ``GET /repos/{owner}/{repo}/issues?state=all&sort=created`` (the REST
API lists pull requests there too), newest first, with ``If-None-Match`` so an
unchanged list costs a 304 and no quota. It follows ``Link: rel="next"`` pages until it
meets an item it has seen (bounded by ``max_pages``), so items opened while the bot was
down are announced after a restart. It slows down when fewer than ``reserve`` requests
remain and pauses on 403/429 until ``Retry-After`` or the quota's reset.

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

from univac import Context, Target, UserError, command, every
from univac.plugins import _poll
from univac.plugins._http import (
    FetchError,
    HttpStatus,
    Limits,
    RateLimited,
    Response,
    check,
    fetch,
)
from univac.plugins._text import one_line

REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+")


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
        _poll.check_watch("repos", self.repos, REPO, "owner/repo", self.targets)
        _poll.check_paging(self.interval_s, self.per_page, self.max_pages)


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
    try:
        issue = _poll.entry(check(_get(ctx, path), ctx.now()))
    except RateLimited:
        raise UserError("GitHub asks me to slow down; try again later.") from None
    except FetchError as error:
        if isinstance(error, HttpStatus) and error.status == 404:
            raise UserError(f"{ref.repo}#{ref.number} was not found.") from None
        ctx.log.warning("gh %s#%d: %s", ref.repo, ref.number, error)
        raise UserError("GitHub did not answer; try again later.") from None
    return _describe(ref.repo, issue)


@every(60)
def poll(ctx: Context) -> None:
    """Announce issues and pull requests opened since the last run."""
    settings: Settings = ctx.config
    if not settings.repos or not _poll.due(ctx, settings.interval_s):
        return
    failed = [r for r in settings.repos if _poll.paused(ctx) or not _poll_repo(ctx, r)]
    if failed:
        raise FetchError(f"{len(failed)} of {len(settings.repos)} repositories failed")


def _poll_repo(ctx: Context, repo: str) -> bool:
    """Poll one repository; False when it failed (logged, and retried next run)."""
    settings: Settings = ctx.config
    query = f"state=all&sort=created&direction=desc&per_page={settings.per_page}"
    url = f"{settings.api_url.rstrip('/')}/repos/{_quoted(repo)}/issues?{query}"
    summary = f"[{repo}] ... and {{count}} more new issues and pull requests"
    return _poll.watch(ctx, "github", repo, url, _get, partial(_item, repo), summary)


def _get(ctx: Context, path_or_url: str, extra: Mapping[str, str] | None = None) -> Response:
    settings: Settings = ctx.config
    url = path_or_url
    if path_or_url.startswith("/"):
        url = settings.api_url.rstrip("/") + path_or_url
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if settings.token:
        headers["Authorization"] = f"Bearer {settings.token}"
    limits = Limits(settings.timeout_s, settings.max_bytes)
    return fetch(url, limits, headers=headers | dict(extra or {}))


def _item(repo: str, issue: Mapping[str, Any]) -> _poll.Item:
    kind = "pull request" if issue.get("pull_request") else "issue"
    title = one_line(str(issue.get("title", "")), 200)
    author = one_line(str((issue.get("user") or {}).get("login", "?")), 40)
    url = one_line(str(issue["html_url"]), 200)
    line = f"[{repo}] new {kind} #{issue['number']}: {title} (by {author}) {url}"
    return _poll.Item(str(issue["number"]), line)


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
