"""GitHub activity relayed to chat: one line per event to the configured targets.

Layer: plugin; the HTTP server's worker threads (after the model is updated). Issue,
pull request, review, comment, label, star, membership and wiki (``gollum``) events
become one line each through their template (``str.format`` with plain fields, checked
at start), sent to ``event_targets[event]`` or ``targets`` on any transport. Events
sent by an account in ``bots`` are not relayed. Bodies are cleaned of issue-template
boilerplate (HTML comments, headings, check lists, ``<details>`` markup, code fences),
made one line and cut to ``excerpt_chars``; the whole line is cut to the transport's
``line_chars`` (or ``max_line_chars``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from univac import Context
from univac.kit.text import one_line

from .model import login_of
from .settings import Settings

COMMENT = re.compile(r"<!--.*?(-->|$)", re.DOTALL)
FOLDS = re.compile(r"</?details[^>]*>|<summary>.*?</summary>", re.DOTALL | re.IGNORECASE)
BOILERPLATE = re.compile(r"^\s*(#{1,6}\s.*|[-*]\s+\[[ xX]\]\s.*|```.*)$", re.MULTILINE)
"""Headings, check-list items and code fences: a template's, not the reporter's words."""


def clean(body: object, limit: int) -> str:
    """An issue or comment body without template boilerplate, as one cut line."""
    text = FOLDS.sub(" ", COMMENT.sub(" ", str(body or "")))
    return one_line(BOILERPLATE.sub(" ", text), limit)


def relay(ctx: Context[Settings], event: str, payload: dict[str, Any]) -> int:
    """Send the event's line to its targets; how many lines were sent."""
    settings = ctx.config
    maker = MAKERS.get(event)
    if maker is None or login_of(payload.get("sender")).lower() in _bots(settings):
        return 0
    if event != "membership" and str(_get(payload, "repository", "full_name")).lower() \
            != settings.repo.lower():
        return 0
    if event == "membership" and _get(payload, "team", "slug") != settings.team:
        return 0
    fields = maker(payload, settings.excerpt_chars)
    if not settings.relayed(event, str(fields["action"])):
        return 0
    safe = {key: one_line(str(value), 300) for key, value in fields.items()}
    line = settings.template(event).format_map(safe)
    targets = settings.targets_of(event)
    for target in targets:
        ctx.say(target, one_line(line, settings.limit_of(target.partition(":")[0])))
    return len(targets)


def _bots(settings: Settings) -> set[str]:
    return {bot.lower() for bot in settings.bots}


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return "" if data is None else data


def _common(p: dict[str, Any]) -> dict[str, object]:
    return {"repo": _get(p, "repository", "full_name"), "sender": login_of(p.get("sender")),
            "action": _get(p, "action")}


def _issues(p: dict[str, Any], excerpt: int) -> dict[str, object]:
    issue = p.get("issue") or {}
    return _common(p) | {
        "number": _get(issue, "number"), "title": _get(issue, "title"),
        "url": _get(issue, "html_url"), "body": clean(_get(issue, "body"), excerpt),
        "label": _get(p, "label", "name"), "assignee": login_of(p.get("assignee")),
    }


def _pull_request(p: dict[str, Any], excerpt: int) -> dict[str, object]:
    pull = p.get("pull_request") or {}
    action = _get(p, "action")
    return _common(p) | {
        "action": "merged" if action == "closed" and pull.get("merged") else action,
        "number": _get(pull, "number"), "title": _get(pull, "title"),
        "url": _get(pull, "html_url"), "body": clean(_get(pull, "body"), excerpt),
        "base": _get(pull, "base", "ref"), "head": _get(pull, "head", "ref"),
    }


def _review(p: dict[str, Any], excerpt: int) -> dict[str, object]:
    pull, review = p.get("pull_request") or {}, p.get("review") or {}
    return _common(p) | {
        "state": str(_get(review, "state")).lower().replace("_", " "),
        "number": _get(pull, "number"), "title": _get(pull, "title"),
        "url": _get(review, "html_url") or _get(pull, "html_url"),
        "body": clean(_get(review, "body"), excerpt),
    }


def _comment(p: dict[str, Any], excerpt: int) -> dict[str, object]:
    issue, comment = p.get("issue") or {}, p.get("comment") or {}
    return _common(p) | {
        "kind": "pull request" if issue.get("pull_request") else "issue",
        "number": _get(issue, "number"), "title": _get(issue, "title"),
        "url": _get(comment, "html_url"), "body": clean(_get(comment, "body"), excerpt),
    }


def _label(p: dict[str, Any], excerpt: int) -> dict[str, object]:
    return _common(p) | {"label": _get(p, "label", "name")}


def _star(p: dict[str, Any], excerpt: int) -> dict[str, object]:
    return _common(p) | {"stars": _get(p, "repository", "stargazers_count")}


def _membership(p: dict[str, Any], excerpt: int) -> dict[str, object]:
    return {"sender": login_of(p.get("sender")), "action": _get(p, "action"),
            "member": login_of(p.get("member")),
            "team": _get(p, "team", "name") or _get(p, "team", "slug")}


def _gollum(p: dict[str, Any], excerpt: int) -> dict[str, object]:
    pages = [page for page in p.get("pages") or [] if isinstance(page, dict)]
    named = ", ".join(f"{_get(page, 'title')} ({_get(page, 'action')})" for page in pages)
    return _common(p) | {"action": "edited", "pages": named or "(no page)",
                         "url": _get(pages[0], "html_url") if pages else ""}


MAKERS: dict[str, Callable[[dict[str, Any], int], dict[str, object]]] = {
    "issues": _issues, "pull_request": _pull_request, "pull_request_review": _review,
    "issue_comment": _comment, "label": _label, "star": _star, "membership": _membership,
    "gollum": _gollum,
}
