"""Post GitHub events (push, issues, pull requests) and Alertmanager alerts to chat.

Two webhooks, served by the ``http`` plugin (enable both)::

    <webhook_prefix>/github        GitHub: content type application/json, with the
                                   secret set as the http plugin's webhook_secret
    <webhook_prefix>/alertmanager  Alertmanager: a webhook_config whose http_config
                                   sends the http plugin's webhook_token as a bearer

Each event becomes one line per target through a template: ``str.format`` style with
plain field names only (no attributes, indexes, conversions or format specs), checked
at start. Text from the payload is made one safe line (control characters dropped).

Settings (``[plugins.hooks]``)::

    targets = ["irc:#dev"]                       # GitHub events (transport:target)
    alert_targets = ["irc:#ops"]                 # alerts; default: targets
    repo_targets = { "acme/rocket" = ["irc:#rocket"] }   # per repository, optional
    push_template = "[{repo}] {pusher} pushed {count} commit(s) to {branch}: {compare}"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from univac import Context, Target, UserError, WebhookRequest, WebhookResponse, webhook
from univac.kit import alerts as parse
from univac.kit.alerts import Alert
from univac.kit.text import one_line, template_problem

FIELDS = {
    "push": ("repo", "branch", "pusher", "sender", "count", "compare", "message", "head"),
    "issues": ("repo", "sender", "action", "number", "title", "url", "state"),
    "pull_request": ("repo", "sender", "action", "number", "title", "url", "state", "base",
                     "head"),
    "alert": ("status", "alertname", "severity", "instance", "summary", "description",
              "receiver", "starts_at"),
}


@dataclass(frozen=True)
class Settings:
    """The ``[plugins.hooks]`` table."""

    targets: tuple[Target, ...] = ()
    alert_targets: tuple[Target, ...] = ()
    repo_targets: dict[str, tuple[Target, ...]] | None = None
    """A table: ``"owner/repo" = ["transport:target", ...]``, instead of ``targets``."""
    events: tuple[str, ...] = ("push", "issues", "pull_request")
    actions: tuple[str, ...] = ("opened", "closed", "reopened", "merged")
    """Issue and pull request actions to post (``merged``: a pull request closed merged)."""
    push_template: str = "[{repo}] {pusher} pushed {count} commit(s) to {branch}: " \
                         "{message} {compare}"
    issues_template: str = "[{repo}] {sender} {action} issue #{number}: {title} {url}"
    pull_request_template: str = "[{repo}] {sender} {action} pull request #{number}: " \
                                 "{title} {url}"
    alert_template: str = "[{status}] {alertname} ({severity}) {instance}: {summary}"
    max_alerts: int = 5

    def __post_init__(self) -> None:
        for kind in FIELDS:
            check_template(f"{kind}_template", getattr(self, f"{kind}_template"), FIELDS[kind])
        unknown = sorted(set(self.events) - {"push", "issues", "pull_request"})
        if unknown:
            raise ValueError(f"events: unknown {unknown}; choose from push, issues, pull_request")
        routes = self.repo_targets if self.repo_targets is not None else {}
        if not isinstance(routes, Mapping) or not all(
                isinstance(v, list | tuple) for v in routes.values()):
            raise ValueError("repo_targets must be a table of lists of transport:target")
        every = (*self.targets, *self.alert_targets, *(t for v in routes.values() for t in v))
        if any(not isinstance(t, str) or ":" not in t for t in every):
            raise ValueError("targets must be written transport:target, e.g. irc:#ops")
        if self.max_alerts < 1:
            raise ValueError("max_alerts must be at least 1")
        if not (self.targets or self.alert_targets or routes):
            raise ValueError("nothing would be posted: set targets (and alert_targets)")


def check_template(name: str, template: str, allowed: tuple[str, ...]) -> None:
    """ValueError unless ``template`` uses only ``{field}`` with a field in ``allowed``."""
    if reason := template_problem(template, allowed):
        raise ValueError(f"{name}: {reason}")


def render(template: str, fields: Mapping[str, object]) -> str:
    """Fill a checked template with one-line, length-limited values."""
    safe = {key: one_line(str(value), 200) for key, value in fields.items()}
    return one_line(template.format_map(safe), 400)


@webhook("/github")
def github(ctx: Context, request: WebhookRequest) -> WebhookResponse | str:
    """Post a GitHub push, issues or pull_request event to the repository's targets."""
    settings: Settings = ctx.config
    event = request.header("X-GitHub-Event")
    if event == "ping":
        return "pong"
    if event not in settings.events:
        return WebhookResponse(202, f"event {event or '(none)'} is not posted\n")
    payload = request.json()
    if not isinstance(payload, dict):
        raise UserError("the body is not a JSON object")
    fields = FIELD_MAKERS[event](payload)
    if event != "push" and fields["action"] not in settings.actions:
        return WebhookResponse(202, f"action {fields['action']} is not posted\n")
    line = render(getattr(settings, f"{event}_template"), fields)
    targets = _repo_targets(settings, str(fields["repo"]))
    for target in targets:
        ctx.say(target, line)
    return f"posted to {len(targets)} target(s)\n"


@webhook("/alertmanager")
def alertmanager(ctx: Context, request: WebhookRequest) -> str:
    """Post each alert of an Alertmanager notification (at most ``max_alerts``)."""
    settings: Settings = ctx.config
    payload = request.json()
    alerts = parse.alertmanager(payload)
    receiver = str(payload.get("receiver", ""))
    lines = [render(settings.alert_template, _alert(a, receiver))
             for a in alerts[: settings.max_alerts]]
    if len(alerts) > settings.max_alerts:
        lines.append(f"... and {len(alerts) - settings.max_alerts} more alert(s)")
    targets = settings.alert_targets or settings.targets
    for target in targets:
        for line in lines:
            ctx.say(target, line)
    return f"posted {len(lines)} line(s) to {len(targets)} target(s)\n"


def _repo_targets(settings: Settings, repo: str) -> tuple[str, ...]:
    routes = settings.repo_targets or {}
    return tuple(routes.get(repo, settings.targets))


def _get(data: Any, *keys: str) -> Any:
    """``data[k1][k2]...``, or an empty string where something is missing."""
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return "" if data is None else data


def _push(p: Mapping[str, Any]) -> dict[str, object]:
    ref = str(_get(p, "ref"))
    commits = p.get("commits")
    return {
        "repo": _get(p, "repository", "full_name"), "sender": _get(p, "sender", "login"),
        "branch": ref.removeprefix("refs/heads/").removeprefix("refs/tags/"),
        "pusher": _get(p, "pusher", "name") or _get(p, "sender", "login"),
        "count": len(commits) if isinstance(commits, list) else 0,
        "compare": _get(p, "compare"), "head": str(_get(p, "after"))[:7],
        "message": str(_get(p, "head_commit", "message")).partition("\n")[0],
    }


def _issue_like(p: Mapping[str, Any], key: str) -> dict[str, object]:
    item = p.get(key) if isinstance(p.get(key), dict) else {}
    action = str(_get(p, "action"))
    if action == "closed" and item.get("merged"):
        action = "merged"
    return {
        "repo": _get(p, "repository", "full_name"), "sender": _get(p, "sender", "login"),
        "action": action, "number": _get(item, "number"), "title": _get(item, "title"),
        "url": _get(item, "html_url"), "state": _get(item, "state"),
        "base": _get(item, "base", "ref"), "head": _get(item, "head", "ref"),
    }


FIELD_MAKERS = {
    "push": _push,
    "issues": lambda p: _issue_like(p, "issue"),
    "pull_request": lambda p: _issue_like(p, "pull_request"),
}


def _alert(alert: Alert, receiver: str) -> dict[str, object]:
    return {
        "status": alert.status.upper(), "alertname": alert.labels.get("alertname", ""),
        "severity": alert.severity, "instance": alert.labels.get("instance", ""),
        "summary": alert.annotations.get("summary", ""),
        "description": alert.annotations.get("description", ""),
        "receiver": receiver, "starts_at": alert.starts_at,
    }
