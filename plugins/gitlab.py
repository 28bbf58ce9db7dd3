"""Announce new GitLab issues and merge requests; ``!gl group/project!n`` shows one.

For each watched project the poller reads the REST API v4 lists
``GET /projects/:id/issues`` and ``GET /projects/:id/merge_requests``
(``order_by=created_at&sort=desc``) with ``If-None-Match``, follows ``Link:
rel="next"`` pages until it meets an item it has seen (at most ``max_pages``), slows
down when fewer than ``reserve`` requests remain (``RateLimit-Remaining``) and pauses
on 403/429 until ``Retry-After`` or ``RateLimit-Reset``.

Settings (``[plugins.gitlab]``)::

    api_url = "https://gitlab.example.com/api/v4"
    projects = ["group/project", "group/subgroup/other"]
    targets = ["irc:#ops"]          # where announcements go (transport:target)
    token_file = "gitlab.token"     # or token_env = "GITLAB_TOKEN"; optional
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

PROJECT = re.compile(r"[\w.-]+(?:/[\w.-]+)+")
KINDS = {"issues": ("issue", "#"), "merge_requests": ("merge request", "!")}


@dataclass(frozen=True)
class Settings:
    """The ``[plugins.gitlab]`` table."""

    api_url: str = "https://gitlab.com/api/v4"
    token: str = ""
    projects: tuple[str, ...] = ()
    targets: tuple[Target, ...] = ()
    interval_s: float = 300.0
    per_page: int = 20
    max_pages: int = 3
    max_announce: int = 5
    reserve: int = 50
    timeout_s: float = 10.0
    max_bytes: int = 2_000_000

    def __post_init__(self) -> None:
        _poll.check_watch("projects", self.projects, PROJECT, "group/project", self.targets)
        _poll.check_paging(self.interval_s, self.per_page, self.max_pages)


class ItemRef:
    """``group/project!n`` (a merge request) or ``group/project#n`` (an issue)."""

    def __init__(self, text: str) -> None:
        found = re.fullmatch(r"(?P<project>[^#!\s]+)(?P<sign>[#!])(?P<iid>\d+)", text)
        if not found or not PROJECT.fullmatch(found["project"]):
            raise ValueError("expected group/project!number or group/project#number")
        self.project, self.sign, self.iid = found["project"], found["sign"], int(found["iid"])
        self.kind = "merge_requests" if self.sign == "!" else "issues"


@command("gl")
def gl(ctx: Context, ref: ItemRef) -> str:
    """Show a GitLab merge request (project!n) or issue (project#n) in one line."""
    path = f"/projects/{quote(ref.project, safe='')}/{ref.kind}/{ref.iid}"
    shown = f"{ref.project}{ref.sign}{ref.iid}"
    try:
        item = _poll.entry(check(_get(ctx, path), ctx.now()))
    except RateLimited:
        raise UserError("GitLab asks me to slow down; try again later.") from None
    except FetchError as error:
        if isinstance(error, HttpStatus) and error.status == 404:
            raise UserError(f"{shown} was not found.") from None
        ctx.log.warning("gl %s: %s", shown, error)
        raise UserError("GitLab did not answer; try again later.") from None
    return _describe(ref.project, ref.kind, item)


@every(60)
def poll(ctx: Context) -> None:
    """Announce issues and merge requests opened since the last run."""
    settings: Settings = ctx.config
    if not settings.projects or not _poll.due(ctx, settings.interval_s):
        return
    sources = [(project, kind) for project in settings.projects for kind in KINDS]
    failed = [s for s in sources if _poll.paused(ctx) or not _poll_list(ctx, *s)]
    if failed:
        raise FetchError(f"{len(failed)} of {len(sources)} lists failed")


def _poll_list(ctx: Context, project: str, kind: str) -> bool:
    """Poll one project's issues or merge requests; False when that failed."""
    settings: Settings = ctx.config
    query = f"order_by=created_at&sort=desc&per_page={settings.per_page}"
    url = f"{settings.api_url.rstrip('/')}/projects/{quote(project, safe='')}/{kind}?{query}"
    source = f"{project} {kind}"
    summary = f"[{project}] ... and {{count}} more new {KINDS[kind][0]}s"
    return _poll.watch(ctx, "gitlab", source, url, _get, partial(_item, project, kind), summary)


def _get(ctx: Context, path_or_url: str, extra: Mapping[str, str] | None = None) -> Response:
    settings: Settings = ctx.config
    url = path_or_url
    if path_or_url.startswith("/"):
        url = settings.api_url.rstrip("/") + path_or_url
    headers = {"Accept": "application/json"}
    if settings.token:
        headers["PRIVATE-TOKEN"] = settings.token
    limits = Limits(settings.timeout_s, settings.max_bytes)
    return fetch(url, limits, headers=headers | dict(extra or {}))


def _item(project: str, kind: str, entry: Mapping[str, Any]) -> _poll.Item:
    name, sign = KINDS[kind]
    title = one_line(str(entry["title"]), 200)
    author = one_line(str((entry.get("author") or {}).get("username", "?")), 40)
    url = one_line(str(entry["web_url"]), 200)
    line = f"[{project}] new {name} {sign}{entry['iid']}: {title} (by {author}) {url}"
    return _poll.Item(f"{sign}{entry['iid']}", line)


def _describe(project: str, kind: str, entry: Mapping[str, Any]) -> str:
    name, sign = KINDS[kind]
    title = one_line(str(entry.get("title", "")), 200)
    author = one_line(str((entry.get("author") or {}).get("username", "?")), 40)
    state = one_line(str(entry.get("state", "?")), 20)
    url = one_line(str(entry.get("web_url", "")), 200)
    return f"{project}{sign}{entry.get('iid')} ({name}, {state}): {title} - by {author} - {url}"
