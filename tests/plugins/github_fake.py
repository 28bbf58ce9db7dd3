"""A stateful fake of the GitHub REST API, on 127.0.0.1, for the triage plugin's tests.

GitHub is a service that cannot run here, so this follows its documented contract for
what the plugin calls, and keeps state so a test can assert the labels, comments,
assignees and lock an issue ends up with:

- issues: ``GET /repos/{o}/{r}/issues`` (``state``, ``sort``, ``direction``, pages;
  pull requests included, as on GitHub), ``GET``/``POST`` one issue, its timeline,
  its reactions; labels (``POST .../labels`` adds, ``DELETE .../labels/{name}``
  removes, 404 when absent), comments, assignees (``DELETE .../assignees``), the lock
  (``PUT``/``DELETE .../lock``, 204). Each change adds a timeline event by the caller.
- ``GET /orgs/{org}/teams/{slug}/members``.
- ``POST /app/installations/{id}/access_tokens``: the App's JWT is checked (RS256
  under the App's public key, ``iss`` the App id, at most ten minutes long) with
  PyJWT, and an installation token valid an hour is issued.
- credentials: ``Authorization: Bearer|token <token>``, 401 ``Bad credentials``
  otherwise; rate limit: ``X-RateLimit-Limit/Remaining/Used/Reset/Resource`` on every
  answer, 403 ``API rate limit exceeded`` once spent; pages: ``per_page`` (30, at
  most 100), ``page``, and ``Link`` with ``next`` and ``last``.

``down = True`` answers 502 to everything (GitHub unreachable behind its proxy);
paths in ``failing`` are answered 500.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import jwt

BOT = "triage-app[bot]"


def iso(moment: datetime | float) -> str:
    when = moment if isinstance(moment, datetime) else datetime.fromtimestamp(moment, UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeIssue:
    number: int
    title: str = "An issue"
    body: str = ""
    user: str = "reporter"
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    locked: bool = False
    created_at: str = "2026-01-01T00:00:00Z"
    thumbs: int = 0
    pull_request: bool = False
    comments: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any
    auth: str


class Reply(Exception):
    """Raised by a route to answer with a status and a JSON body."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


class FakeGitHub:
    """The fake API; ``base`` is its URL (the plugin's ``api_url``)."""

    def __init__(self, repo: str = "acme/rocket", token: str = "personal-token") -> None:
        self.repo = repo
        self.issues: dict[int, FakeIssue] = {}
        self.teams: dict[tuple[str, str], list[str]] = {}
        self.tokens: dict[str, str] = {token: BOT}
        self.app: tuple[str, str, str] | None = None
        self.issued: list[str] = []
        self.limit = self.remaining = 5000
        self.reset = time.time() + 3600
        self.calls: list[Call] = []
        self.down = False
        self.failing: set[str] = set()
        """Paths answered 500 (a server error on one resource)."""
        self.clock: Callable[[], float] = time.time
        self.lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    # -- set-up and inspection --------------------------------------------------------

    def add(self, number: int, **fields: Any) -> FakeIssue:
        with self.lock:
            issue = self.issues[number] = FakeIssue(number, **fields)
            return issue

    def event(self, number: int, kind: str, actor: str, at: datetime | float, **extra: Any) -> None:
        """Add a timeline event as GitHub lists it."""
        with self.lock:
            self.issues[number].timeline.append(
                {"event": kind, "actor": {"login": actor}, "created_at": iso(at)} | extra)

    def use_app(self, app_id: str, public_pem: str, installation: str) -> None:
        self.app = (app_id, public_pem, installation)

    def changes(self, number: int | None = None) -> list[Call]:
        """The calls that changed something (for one issue, when given)."""
        with self.lock:
            made = [c for c in self.calls if c.method != "GET" and "/access_tokens" not in c.path]
        return [c for c in made if number is None or f"/issues/{number}/" in c.path + "/"]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- the API ------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: dict[str, str], body: Any) -> Reply:
        url = urlsplit(target)
        path, query = url.path, {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self.lock:
            self.calls.append(Call(method, path, body, headers.get("authorization", "")))
            if self.down:
                return Reply(502, {"message": "Server Error"})
            if path in self.failing:
                return Reply(500, {"message": "Server Error"})
            if path.startswith("/app/installations/"):
                return self._installation_token(path, headers)
            if headers.get("authorization", "").split(" ")[-1] not in self.tokens:
                return Reply(401, {"message": "Bad credentials"})
            if self.remaining <= 0:
                return self._limited(Reply(403, {"message": "API rate limit exceeded"}))
            self.remaining -= 1
            try:
                reply = self._route(method, path, query, body, headers)
            except Reply as error:
                reply = error
            return self._limited(reply)

    def _limited(self, reply: Reply) -> Reply:
        reply.headers |= {
            "X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Used": str(self.limit - self.remaining),
            "X-RateLimit-Reset": str(int(self.reset)), "X-RateLimit-Resource": "core",
        }
        return reply

    def _installation_token(self, path: str, headers: dict[str, str]) -> Reply:
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if self.app is None or scheme != "Bearer":
            return Reply(401, {"message": "A JSON web token could not be decoded"})
        app_id, public_pem, installation = self.app
        if path != f"/app/installations/{installation}/access_tokens":
            return Reply(404, {"message": "Not Found"})
        try:  # the signature by PyJWT; the times against this server's clock
            claims = jwt.decode(given, public_pem, algorithms=["RS256"], options={
                "require": ["iat", "exp", "iss"], "verify_exp": False, "verify_iat": False})
        except jwt.PyJWTError:
            return Reply(401, {"message": "A JSON web token could not be decoded"})
        now = self.clock()
        if not claims["iat"] - 60 <= now < claims["exp"] or str(claims["iss"]) != app_id:
            return Reply(401, {"message": "'Issued at' claim ('iat') must be an Integer "
                                          "representing the time that the assertion was issued"})
        if claims["exp"] - claims["iat"] > 660:
            return Reply(401, {"message": "'Expiration time' claim ('exp') is too far"})
        token = f"ghs_installation_{len(self.issued) + 1}"
        self.issued.append(token)
        self.tokens[token] = BOT
        return Reply(201, {"token": token, "expires_at": iso(self.clock() + 3600)})

    def _route(self, method: str, path: str, query: dict[str, str], body: Any,
               headers: dict[str, str]) -> Reply:
        actor = self.tokens[headers["authorization"].split(" ")[-1]]
        team = re.fullmatch(r"/orgs/([^/]+)/teams/([^/]+)/members", path)
        if team and method == "GET":
            members = self.teams.get((team[1], team[2]))
            if members is None:
                raise Reply(404, {"message": "Not Found"})
            return self._page(path, query, [{"login": m, "type": "User"} for m in members])
        prefix = f"/repos/{self.repo}/issues"
        if not path.startswith(prefix):
            raise Reply(404, {"message": "Not Found"})
        rest = path[len(prefix):]
        if rest == "":
            return self._issues(method, path, query, body, actor)
        found = re.fullmatch(r"/(\d+)(/.*)?", rest)
        if not found or int(found[1]) not in self.issues:
            raise Reply(404, {"message": "Not Found"})
        return self._issue(method, path, query, body, self.issues[int(found[1])],
                           unquote(found[2] or ""), actor)

    def _issues(self, method: str, path: str, query: dict[str, str], body: Any,
                actor: str) -> Reply:
        if method == "POST":
            number = max(self.issues, default=0) + 1
            issue = self.add(number, title=body["title"], body=body.get("body", ""), user=actor,
                             labels=list(body.get("labels", [])), created_at=iso(self.clock()))
            return Reply(201, self.issue_json(issue))
        state = query.get("state", "open")
        listed = sorted(self.issues.values(), key=lambda i: i.number,
                        reverse=query.get("direction", "desc") == "desc")
        listed = [i for i in listed if state == "all" or i.state == state]
        return self._page(path, query, [self.issue_json(i) for i in listed])

    def _issue(self, method: str, path: str, query: dict[str, str], body: Any,
               issue: FakeIssue, tail: str, actor: str) -> Reply:
        now = iso(self.clock())
        if tail == "" and method == "GET":
            return Reply(200, self.issue_json(issue))
        if tail == "/timeline" and method == "GET":
            return self._page(path, query, list(issue.timeline))
        if tail == "/reactions" and method == "GET":
            thumbs = [{"content": "+1", "user": {"login": f"fan{i}"}} for i in range(issue.thumbs)]
            return self._page(path, query, thumbs)
        if tail == "/labels" and method == "POST":
            for name in body["labels"]:
                if name not in issue.labels:
                    issue.labels.append(name)
                    issue.timeline.append(_event("labeled", actor, now, label={"name": name}))
            return Reply(200, [{"name": n} for n in issue.labels])
        if tail.startswith("/labels/") and method == "DELETE":
            name = tail[len("/labels/"):]
            if name not in issue.labels:
                raise Reply(404, {"message": "Label does not exist"})
            issue.labels.remove(name)
            issue.timeline.append(_event("unlabeled", actor, now, label={"name": name}))
            return Reply(200, [{"name": n} for n in issue.labels])
        return self._issue_change(method, body, issue, tail, actor, now)

    def _issue_change(self, method: str, body: Any, issue: FakeIssue, tail: str, actor: str,
                      now: str) -> Reply:
        if tail == "/comments" and method == "POST":
            comment = {"id": len(issue.comments) + 1, "user": {"login": actor},
                       "body": body["body"], "created_at": now}
            issue.comments.append(comment)
            issue.timeline.append(_event("commented", actor, now, body=body["body"]))
            return Reply(201, comment)
        if tail == "/assignees" and method == "DELETE":
            for login in body["assignees"]:
                if login in issue.assignees:
                    issue.assignees.remove(login)
                    issue.timeline.append(_event("unassigned", actor, now,
                                                 assignee={"login": login}))
            return Reply(200, self.issue_json(issue))
        if tail == "/lock" and method in ("PUT", "DELETE"):
            issue.locked = method == "PUT"
            issue.timeline.append(_event("locked" if issue.locked else "unlocked", actor, now))
            return Reply(204)
        raise Reply(404, {"message": "Not Found"})

    def _page(self, path: str, query: dict[str, str], items: list[Any]) -> Reply:
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        last = max(1, -(-len(items) // per_page))
        links = []
        if page < last:
            links.append(f'<{self._url(path, query, page + 1)}>; rel="next"')
        links.append(f'<{self._url(path, query, last)}>; rel="last"')
        chunk = items[(page - 1) * per_page: page * per_page]
        return Reply(200, chunk, {"Link": ", ".join(links)})

    def _url(self, path: str, query: dict[str, str], page: int) -> str:
        return f"{self.base}{path}?{urlencode(query | {'page': str(page)})}"

    def issue_json(self, issue: FakeIssue) -> dict[str, Any]:
        users = [{"login": a, "type": "User"} for a in issue.assignees]
        found: dict[str, Any] = {
            "id": issue.number * 1000, "number": issue.number, "title": issue.title,
            "body": issue.body, "state": issue.state, "user": {"login": issue.user},
            "html_url": f"https://github.com/{self.repo}/issues/{issue.number}",
            "labels": [{"name": name, "color": "ededed"} for name in issue.labels],
            "assignee": users[0] if users else None, "assignees": users,
            "locked": issue.locked, "active_lock_reason": "resolved" if issue.locked else None,
            "comments": len(issue.comments), "created_at": issue.created_at,
            "reactions": {"+1": issue.thumbs, "-1": 0, "total_count": issue.thumbs},
        }
        if issue.pull_request:
            found["pull_request"] = {"url": f"{self.base}/repos/{self.repo}/pulls/{issue.number}"}
        return found


def _event(kind: str, actor: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"event": kind, "actor": {"login": actor}, "created_at": at} | extra


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = fake.answer(self.command, self.path, headers, body)
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    return Handler
