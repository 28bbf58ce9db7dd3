"""Announce new GitLab issues and merge requests; ``!gl group/project!n`` shows one.

For each watched project the poller reads the REST API v4 lists
``GET /projects/:id/issues`` and ``GET /projects/:id/merge_requests``
(``order_by=created_at&sort=desc``) through the kit's REST watcher
(``univac.kit.rest``): conditional requests, ``Link`` pages until a seen item,
and GitLab's rate-limit headers (``RateLimit-Remaining``, ``RateLimit-Reset``,
``Retry-After``).

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

from univac import Context, Target, command, every
from univac.kit import rest
from univac.kit.text import one_line
from univac.kit.watch import Item, check_watch

PROJECT = re.compile(r"[\w.-]+(?:/[\w.-]+)+")
KINDS = {"issues": ("issue", "#"), "merge_requests": ("merge request", "!")}
GITLAB = rest.Service("GitLab", {"Accept": "application/json"}, "PRIVATE-TOKEN", "{token}")


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
        check_watch("projects", self.projects, PROJECT, "group/project", self.targets)
        rest.check_paging(self.interval_s, self.per_page, self.max_pages)


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
    item = rest.lookup(ctx, GITLAB, path, f"{ref.project}{ref.sign}{ref.iid}")
    return _describe(ref.project, ref.kind, item)


@every(60)
def poll(ctx: Context) -> None:
    """Announce issues and merge requests opened since the last run."""
    settings: Settings = ctx.config
    sources = [_source(settings, p, kind) for p in settings.projects for kind in KINDS]
    rest.poll(ctx, GITLAB, sources)


def _source(settings: Settings, project: str, kind: str) -> rest.Source:
    query = f"order_by=created_at&sort=desc&per_page={settings.per_page}"
    url = f"{settings.api_url.rstrip('/')}/projects/{quote(project, safe='')}/{kind}?{query}"
    summary = f"[{project}] ... and {{count}} more new {KINDS[kind][0]}s"
    return rest.Source(f"{project} {kind}", url, partial(_item, project, kind), summary)


def _item(project: str, kind: str, entry: Mapping[str, Any]) -> Item:
    name, sign = KINDS[kind]
    title = one_line(str(entry["title"]), 200)
    author = one_line(str((entry.get("author") or {}).get("username", "?")), 40)
    url = one_line(str(entry["web_url"]), 200)
    line = f"[{project}] new {name} {sign}{entry['iid']}: {title} (by {author}) {url}"
    return Item(f"{sign}{entry['iid']}", line)


def _describe(project: str, kind: str, entry: Mapping[str, Any]) -> str:
    name, sign = KINDS[kind]
    title = one_line(str(entry.get("title", "")), 200)
    author = one_line(str((entry.get("author") or {}).get("username", "?")), 40)
    state = one_line(str(entry.get("state", "?")), 20)
    url = one_line(str(entry.get("web_url", "")), 200)
    return f"{project}{sign}{entry.get('iid')} ({name}, {state}): {title} - by {author} - {url}"
