"""A stateful fake of Phabricator's Conduit API, on 127.0.0.1, for the incidents tests.

Phabricator could run here only with PHP, MySQL and a web server set up for it, so
this follows Conduit's documented contract for the four methods the ``phabricator``
tracker calls, and keeps state (tasks, their transactions, users, projects) so a
test can assert what a task ends up as. Where each shape comes from (phacility's
Phabricator source and its user docs, "Conduit API Overview", "Using Edit
Endpoints", "Using Search Endpoints"):

Request (``PhabricatorConduitAPIController::decodeConduitParams``): ``POST
/api/<method>``, form-encoded. Either plain fields, nested in PHP's bracket form
(``transactions[0][type]=title``; the API console's curl examples), read loosely
typed, with the token as ``api.token`` (keys starting ``api.`` are metadata); or
``params=<JSON>`` with the token in ``params.__conduit__.token`` (arcanist's
ConduitClient). A body sent as ``Content-Type: application/json`` is refused.

Answer (``ConduitAPIResponse::toDictionary``): always HTTP 200 and ``{"result": ...,
"error_code": null, "error_info": null}``, or ``result`` null with:

- ``ERR-INVALID-SESSION`` "Session key is not present." (no token);
  ``ERR-INVALID-AUTH`` 'API token "..." has the wrong length...' or 'API token "..."
  is not valid.' (the token repeated, as Phabricator does);
- ``ERR-CONDUIT-CALL`` 'Conduit API method "x" does not exist.' and 'API Method "x"
  does not define these parameters: ...' (``ConduitCall``), checked before the token;
- ``ERR-CONDUIT-CORE`` for what a method raises: 'Monogram "T9" does not identify a
  valid object.', 'No object exists with ID "9".', 'Transaction with key "0" has
  invalid type "x". This type is not recognized. Valid types are: ...', 'Constraint
  "x" is not a valid constraint for this query.', and "Validation errors:\\n  - ..."
  (``PhabricatorApplicationTransactionValidationException``): "Tasks must have a
  title.", 'User "PHID-USER-x" is not a valid user.', "You can not select this view
  policy, because you would no longer be able to view the object.".

``maniphest.edit`` (``PhabricatorEditEngine::buildConduitResponse``): ``transactions``
(a list of ``{type, value}``) and ``objectIdentifier`` (an id, a PHID or a monogram
``T123``; none creates a task). Types kept here: ``title``, ``description``,
``status`` (any status constant), ``owner`` (a user PHID, a user name, or null),
``projects.add`` / ``projects.remove`` (project PHIDs or hashtags), ``view`` and
``edit`` (a policy: ``public``, ``users``, ``admin``, ``no-one``, a user or project
PHID: the project's members), ``comment``. A task the caller cannot see does not
exist for it; a policy that would lock the caller out is refused. Transactions with
no effect are skipped (``setContinueOnNoEffect``). Result: ``{"object": {"id",
"phid"}, "transactions": [{"phid"}...]}`` (one per effective transaction).

``maniphest.search`` / ``user.search`` / ``project.search``
(``PhabricatorApplicationSearchEngine::buildConduitResponse``): ``constraints``
(``ids``, ``phids``; tasks: ``projects``, ``statuses``, ``assigned``; users:
``usernames``, exact and case-insensitive; projects: ``slugs``, normalized as
``PhabricatorSlug::normalizeProjectSlug`` does), ``attachments`` (tasks:
``projects``), ``order`` (``newest``, ``oldest``), ``limit`` (100 at most). Result:
``{"data": [{"id", "type", "phid", "fields": {...}, "attachments": {...}}], "maps":
{}, "query": {"queryKey": null}, "cursor": {"limit", "after", "before", "order"}}``
with the fields ``ManiphestTask``, ``PhabricatorUser`` and ``PhabricatorProject``
give (``getFieldValuesForConduit``) and the common ``dateCreated``, ``dateModified``,
``policy``.

``down = True`` answers HTTP 503 from a proxy in front of it; ``stall(method)`` holds
the answers (to one method) until ``release()``; the change is then still made, as a
slow server makes it after its client gave up.
Every call is recorded in ``calls`` (method and parameters, without the token).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

STALL_DEADLINE_S = 60.0
GLOBAL_POLICIES = ("public", "users", "admin", "no-one")
EDIT_TYPES = ("title", "description", "status", "owner", "projects.add", "projects.remove",
              "view", "edit", "comment")
METHODS = {"maniphest.edit": ("transactions", "objectIdentifier"),
           "maniphest.search": ("queryKey", "constraints", "attachments", "order", "before",
                                "after", "limit"),
           "user.search": ("queryKey", "constraints", "attachments", "order", "before",
                           "after", "limit"),
           "project.search": ("queryKey", "constraints", "attachments", "order", "before",
                              "after", "limit")}
CONSTRAINTS = {"maniphest.search": ("ids", "phids", "projects", "statuses", "assigned"),
               "user.search": ("ids", "phids", "usernames"),
               "project.search": ("ids", "phids", "slugs")}


class Failure(Exception):
    """A Conduit error: its code and info."""

    def __init__(self, code: str, info: str) -> None:
        super().__init__(f"{code}: {info}")
        self.code, self.info = code, info


def core(info: str) -> Failure:
    return Failure("ERR-CONDUIT-CORE", info)


def invalid(*errors: str) -> Failure:
    return core("\n".join(["Validation errors:", *(f"  - {e}" for e in errors)]))


@dataclass
class FakeUser:
    id: int
    phid: str
    username: str
    real_name: str = ""
    admin: bool = False
    bot: bool = False


@dataclass
class FakeProject:
    id: int
    phid: str
    name: str
    slug: str
    members: set[str] = field(default_factory=set)


@dataclass
class FakeTask:
    id: int
    phid: str
    author: str
    created: int
    title: str = ""
    description: str = ""
    status: str = "open"
    owner: str | None = None
    projects: list[str] = field(default_factory=list)
    view: str = "users"
    edit: str = "users"
    comments: list[str] = field(default_factory=list)
    transactions: list[tuple[str, Any]] = field(default_factory=list)
    """Every effective transaction, in order: (type, new value)."""
    modified: int = 0

    def history(self, kind: str) -> list[Any]:
        """The values one transaction type took, in order (``status``: the sequence)."""
        return [value for typed, value in self.transactions if typed == kind]


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]


def slug_of(text: str) -> str:
    """A project hashtag as ``PhabricatorSlug::normalizeProjectSlug`` keeps it."""
    slug = re.sub(r"[\x00-\x19#%&+=?\s\\<>{}\[\]'\"`~!@$^*,:;(|)]+", "_", text.lower())
    return re.sub(r"_+", "_", slug).strip("_/")


class FakeConduit:
    """The fake API; ``base`` is Phabricator's address (the ``phabricator_url``)."""

    def __init__(self) -> None:
        self.users: dict[str, FakeUser] = {}
        self.projects: dict[str, FakeProject] = {}
        self.tasks: dict[int, FakeTask] = {}
        self.tokens: dict[str, str] = {}
        self.calls: list[Call] = []
        self.down = False
        self.lock = threading.RLock()
        self._go = threading.Event()
        self._go.set()
        self._stalled = ""
        self._serial = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    # -- set-up and inspection --------------------------------------------------------

    def add_user(self, username: str, token: str = "", **fields: Any) -> FakeUser:
        with self.lock:
            user = FakeUser(len(self.users) + 1, self._phid("USER"), username, **fields)
            self.users[user.phid] = user
            if token:
                self.tokens[token] = user.phid
            return user

    def add_project(self, name: str, members: tuple[FakeUser, ...] = ()) -> FakeProject:
        with self.lock:
            project = FakeProject(len(self.projects) + 1, self._phid("PROJ"), name,
                                  slug_of(name), {m.phid for m in members})
            self.projects[project.phid] = project
            return project

    def made(self, method: str = "") -> list[Call]:
        """The calls made (of one method)."""
        with self.lock:
            return [c for c in self.calls if not method or c.method == method]

    def stall(self, method: str = "") -> None:
        """Hold every answer (to ``method``, if given) until ``release()``."""
        self._stalled = method
        self._go.clear()

    def release(self) -> None:
        self._go.set()

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def _phid(self, kind: str) -> str:
        self._serial += 1
        return f"PHID-{kind}-{self._serial:020d}"

    # -- the API ------------------------------------------------------------------------

    def answer(self, method: str, fields: list[tuple[str, str]], json_body: bool) -> Any:
        """The Conduit envelope for one call."""
        if not self._stalled or self._stalled == method:
            self._go.wait(STALL_DEADLINE_S)
        try:
            if json_body:
                raise core("Use form-encoded data to submit parameters to Conduit endpoints. "
                           "Sending a JSON-encoded body and setting 'Content-Type': "
                           "'application/json' is not currently supported.")
            meta, params = decoded(fields)
            with self.lock:
                self.calls.append(Call(method, params))
                result = self._call(method, meta, params)
            return {"result": result, "error_code": None, "error_info": None}
        except Failure as failure:
            return {"result": None, "error_code": failure.code, "error_info": failure.info}

    def _call(self, method: str, meta: dict[str, Any], params: dict[str, Any]) -> Any:
        if method not in METHODS:
            raise Failure("ERR-CONDUIT-CALL", f'Conduit API method "{method}" does not exist.')
        unknown = [key for key in params if key not in METHODS[method]]
        if unknown:
            raise Failure("ERR-CONDUIT-CALL", f'API Method "{method}" does not define these '
                          f"parameters: '{', '.join(unknown)}'.")
        viewer = self._viewer(meta)
        if method == "maniphest.edit":
            return self._edit(viewer, params)
        return self._search(method, viewer, params)

    def _viewer(self, meta: dict[str, Any]) -> FakeUser:
        token = str(meta.get("token") or "")
        if not token:
            raise Failure("ERR-INVALID-SESSION", "Session key is not present.")
        if len(token) != 32:
            raise Failure("ERR-INVALID-AUTH", f'API token "{token}" has the wrong length. API '
                          "tokens should be 32 characters long.")
        if token not in self.tokens:
            raise Failure("ERR-INVALID-AUTH", f'API token "{token}" is not valid.')
        return self.users[self.tokens[token]]

    # maniphest.edit -------------------------------------------------------------------

    def _edit(self, viewer: FakeUser, params: dict[str, Any]) -> dict[str, Any]:
        xactions = params.get("transactions")
        if not isinstance(xactions, list):
            raise core('Parameter "transactions" is not a list of transactions.')
        for key, xaction in enumerate(xactions):
            if not isinstance(xaction, dict) or "type" not in xaction or "value" not in xaction:
                raise core(f'Parameter "transactions" must contain a list of transaction '
                           f'descriptions, but item with key "{key}" is missing a "type" or '
                           '"value" field.')
            if xaction["type"] not in EDIT_TYPES:
                raise core(f'Transaction with key "{key}" has invalid type "{xaction["type"]}". '
                           "This type is not recognized. Valid types are: "
                           f"{', '.join(EDIT_TYPES)}.")
        identifier = params.get("objectIdentifier")
        now = int(time.time())
        if identifier:
            task = self._task(viewer, str(identifier))
        else:
            task = FakeTask(max(self.tasks, default=0) + 1, self._phid("TASK"), viewer.phid, now)
        changed = self._applied(viewer, task, xactions, creating=not identifier)
        task.modified = now
        self.tasks[task.id] = task
        return {"object": {"id": task.id, "phid": task.phid},
                "transactions": [{"phid": self._phid("XACT-TASK")} for _ in changed]}

    def _task(self, viewer: FakeUser, identifier: str) -> FakeTask:
        if identifier.isdigit():
            found = self.tasks.get(int(identifier))
            missing = f'No object exists with ID "{identifier}".'
        elif identifier.startswith("PHID-"):
            found = next((t for t in self.tasks.values() if t.phid == identifier), None)
            missing = f'No object exists with PHID "{identifier}".'
        else:
            number = re.fullmatch(r"T(\d+)", identifier)
            found = self.tasks.get(int(number[1])) if number else None
            missing = f'Monogram "{identifier}" does not identify a valid object.'
        if found is None or not self.allows(viewer, found.view):
            raise core(missing)
        return found

    def _applied(self, viewer: FakeUser, task: FakeTask, xactions: list[dict[str, Any]],
                 creating: bool) -> list[tuple[str, Any]]:
        """Check every transaction, then apply those with an effect (all or nothing)."""
        after = FakeTask(**{**task.__dict__, "projects": list(task.projects),
                            "comments": list(task.comments),
                            "transactions": list(task.transactions)})
        changed: list[tuple[str, Any]] = []
        for xaction in xactions:
            kind, value = xaction["type"], self._value(xaction["type"], xaction["value"])
            if self._apply(after, kind, value):
                changed.append((kind, value))
        errors = self._errors(viewer, after, creating)
        if errors:
            raise invalid(*errors)
        task.__dict__.update(after.__dict__)
        task.transactions += changed
        return changed

    def _value(self, kind: str, value: Any) -> Any:
        try:
            if kind == "owner":
                return self._user_phid(value)
            if kind.startswith("projects."):
                return [self._project_phid(str(v)) for v in value]
            if not isinstance(value, str):
                raise ValueError("Expected string, got something else.")
            return value
        except (TypeError, ValueError) as error:
            raise core(f'Exception when processing transaction of type "{kind}": Error while '
                       f'reading "value": {error}') from None

    def _user_phid(self, value: Any) -> str | None:
        if value in (None, ""):
            return None
        if not isinstance(value, str):
            raise ValueError("Expected PHID or null, got something else.")
        if value.startswith("PHID-"):
            return value
        found = [u.phid for u in self.users.values() if u.username.lower() == value.lower()]
        return found[0] if found else None

    def _project_phid(self, value: str) -> str:
        if value.startswith("PHID-"):
            return value
        found = [p.phid for p in self.projects.values() if p.slug == slug_of(value)]
        if not found:
            raise core('Edge transactions must have destination PHIDs as in edge lists (found '
                       f'key "{value}" on transaction of type "core:edge").')
        return found[0]

    @staticmethod
    def _apply(task: FakeTask, kind: str, value: Any) -> bool:
        """Apply one transaction to ``task``; whether it had an effect."""
        if kind == "comment":
            task.comments.append(value)
            return True
        if kind == "projects.add":
            new = [p for p in value if p not in task.projects]
            task.projects += new
            return bool(new)
        if kind == "projects.remove":
            gone = [p for p in value if p in task.projects]
            task.projects = [p for p in task.projects if p not in gone]
            return bool(gone)
        attribute = {"title": "title", "description": "description", "status": "status",
                     "owner": "owner", "view": "view", "edit": "edit"}[kind]
        if getattr(task, attribute) == value:
            return False
        setattr(task, attribute, value)
        return True

    def _errors(self, viewer: FakeUser, task: FakeTask, creating: bool) -> list[str]:
        errors = []
        if not task.title:
            errors.append("Tasks must have a title.")
        if task.owner is not None and task.owner not in self.users:
            errors.append(f'User "{task.owner}" is not a valid user.')
        for capability in ("view", "edit"):
            if not self.allows(viewer, getattr(task, capability)):
                errors.append(f"You can not select this {capability} policy, because you "
                              f"would no longer be able to {capability} the object.")
        unknown = [p for p in task.projects if p not in self.projects]
        if unknown:
            errors.append(f"Some projects do not exist: {', '.join(unknown)}.")
        return errors

    def allows(self, user: FakeUser, policy: str) -> bool:
        """Whether ``policy`` (a global one, a user or a project PHID) lets ``user`` in."""
        if policy in ("public", "users"):
            return True
        if policy == "admin":
            return user.admin
        if policy in self.projects:
            return user.phid in self.projects[policy].members
        return policy == user.phid

    # the search methods ---------------------------------------------------------------

    def _search(self, method: str, viewer: FakeUser, params: dict[str, Any]) -> dict[str, Any]:
        constraints = params.get("constraints") or {}
        if not isinstance(constraints, dict):
            raise core('Parameter "constraints" must be a map of constraints, got "list".')
        for key in constraints:
            if key not in CONSTRAINTS[method]:
                raise core(f'Constraint "{key}" is not a valid constraint for this query.')
        order = params.get("order") or "newest"
        if order not in ("newest", "oldest"):
            raise core(f'Order "{order}" is not a recognized order for this query.')
        limit = int(params.get("limit") or 100)
        if not 1 <= limit <= 100:
            raise core(f"Maximum page size for Conduit API method calls is 100, but this call "
                       f"specified {limit}.")
        found = [o for o in self._objects(method, viewer)
                 if self._matches(method, o, constraints)]
        found.sort(key=lambda o: o.id, reverse=order == "newest")
        attachments = params.get("attachments") or {}
        data = [self._item(method, o, attachments) for o in found[:limit]]
        return {"data": data, "maps": {}, "query": {"queryKey": None},
                "cursor": {"limit": limit, "after": None, "before": None,
                           "order": params.get("order")}}

    def _objects(self, method: str, viewer: FakeUser) -> list[Any]:
        if method == "maniphest.search":
            return [t for t in self.tasks.values() if self.allows(viewer, t.view)]
        return list((self.users if method == "user.search" else self.projects).values())

    def _matches(self, method: str, item: Any, constraints: dict[str, Any]) -> bool:
        tests = {
            "ids": lambda wanted: item.id in [int(v) for v in wanted],
            "phids": lambda wanted: item.phid in wanted,
            "usernames": lambda wanted: item.username.lower() in [v.lower() for v in wanted],
            "slugs": lambda wanted: item.slug in [slug_of(v) for v in wanted],
            "projects": lambda wanted: all(self._project_phid(v) in item.projects
                                           for v in wanted),
            "statuses": lambda wanted: item.status in wanted,
            "assigned": lambda wanted: item.owner in [self._user_phid(v) for v in wanted],
        }
        return all(tests[key](_listed(key, wanted)) for key, wanted in constraints.items())

    def _item(self, method: str, item: Any, attachments: dict[str, Any]) -> dict[str, Any]:
        kind = {"maniphest.search": "TASK", "user.search": "USER", "project.search": "PROJ"}
        fields, attached = self._fields(item), {}
        if method == "maniphest.search" and attachments.get("projects"):
            attached["projects"] = {"projectPHIDs": list(item.projects)}
        return {"id": item.id, "type": kind[method], "phid": item.phid, "fields": fields,
                "attachments": attached}

    @staticmethod
    def _fields(item: Any) -> dict[str, Any]:
        if isinstance(item, FakeUser):
            roles = [r for r, on in (("bot", item.bot), ("admin", item.admin)) if on]
            return {"username": item.username, "realName": item.real_name,
                    "roles": [*roles, "verified", "approved", "activated"],
                    "dateCreated": 1700000000, "dateModified": 1700000000,
                    "policy": {"view": "public", "edit": "no-one"}}
        if isinstance(item, FakeProject):
            return {"name": item.name, "slug": item.slug, "subtype": "default",
                    "milestone": None, "depth": 0, "parent": None,
                    "icon": {"key": "group", "name": "Group", "icon": "fa-users"},
                    "color": {"key": "blue", "name": "Blue"}, "spacePHID": None,
                    "dateCreated": 1700000000, "dateModified": 1700000000,
                    "policy": {"view": "users", "edit": "admin", "join": "admin"},
                    "description": ""}
        return {"name": item.title, "description": {"raw": item.description},
                "authorPHID": item.author, "ownerPHID": item.owner,
                "status": {"value": item.status, "name": item.status.capitalize(),
                           "color": None},
                "priority": {"value": 90, "name": "Needs Triage", "color": "violet"},
                "points": None, "subtype": "default", "closerPHID": None, "dateClosed": None,
                "spacePHID": None, "dateCreated": item.created, "dateModified": item.modified,
                "policy": {"view": item.view, "interact": item.view, "edit": item.edit}}


def _listed(key: str, wanted: Any) -> list[Any]:
    if not isinstance(wanted, list):
        raise core(f'Error while reading "{key}": Expected a list, but value is not a list.')
    return wanted


def decoded(fields: list[tuple[str, str]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metadata, parameters) from the form fields, as ``decodeConduitParams`` reads them."""
    plain = dict(fields)
    if "params" in plain:
        try:
            params = json.loads(plain["params"])
        except ValueError:
            raise core("Invalid parameter information was passed to method.") from None
        return dict(params.pop("__conduit__", None) or {}), params
    nested: dict[str, Any] = {}
    for key, value in fields:
        head, *rest = re.findall(r"^[^\[]+|(?<=\[)[^\]]*(?=\])", key)
        _put(nested, [head, *rest], value)
    params = {k: _lists(v) for k, v in nested.items()}
    meta = {k.removeprefix("api."): params.pop(k) for k in list(params) if k.startswith("api.")}
    meta |= {k: params.pop(k) for k in ("output", "access_token", "scope") if k in params}
    return meta, params


def _put(tree: dict[str, Any], path: list[str], value: str) -> None:
    for part in path[:-1]:
        tree = tree.setdefault(part, {})
    tree[path[-1]] = value


def _lists(value: Any) -> Any:
    """PHP arrays numbered 0..n-1 as lists; the rest as they are."""
    if not isinstance(value, dict):
        return value
    items = {k: _lists(v) for k, v in value.items()}
    if items and list(items) == [str(i) for i in range(len(items))]:
        return list(items.values())
    return items


def _handler(fake: FakeConduit) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            if fake.down:
                return self._send(503, b"<html><body>503 Service Unavailable</body></html>",
                                  "text/html")
            method = self.path.removeprefix("/api/").split("?")[0]
            json_body = self.headers.get("Content-Type", "").startswith("application/json")
            fields = [] if json_body else parse_qsl(raw, keep_blank_values=True)
            envelope = fake.answer(method, fields, json_body)
            self._send(200, json.dumps(envelope).encode(), "application/json")

        def _send(self, status: int, payload: bytes, kind: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a stalled answer)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    return Handler
