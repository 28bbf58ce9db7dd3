"""Conduit, Phabricator's HTTP API, over ``requests``. Layer: plugin; any thread.

One call is ``POST <url>/api/<method>`` with the parameters form-encoded, the way the
API console's ``curl`` examples write them (Phabricator's "Conduit API Overview":
"You can format a call with basic HTTP parameters and cURL"): the token as
``api.token=api-...`` and nested values in PHP's bracket form, lists numbered from 0::

    api.token=api-...&objectIdentifier=T123
    &transactions[0][type]=comment&transactions[0][value]=rolled back

Conduit reads such values loosely typed (``"1"`` is ``true``, ``"42"`` an integer),
so booleans are sent as ``1``/``0`` and ``None`` as an empty string. The answer is
always HTTP 200 with the envelope ``{"result": ..., "error_code": null, "error_info":
null}``; a failed call has ``error_code`` (``ERR-INVALID-AUTH``, ``ERR-CONDUIT-CALL``,
``ERR-CONDUIT-CORE``...) and ``error_info`` (a sentence). Anything else (no
connection, a timeout, another HTTP status, no JSON) means Phabricator did not answer.

``PhidCache`` keeps what names (users, project hashtags) resolved to, so that they are
looked up once an hour at most, not once a command.

Errors carry the method and Conduit's words for the log; the token never appears in
them (Phabricator repeats a bad token in ``error_info``: it is cut out). One
``requests.Session`` is reused across calls under a lock; ``trust_env`` is off, as
for the other HTTP clients of the plugins (no proxy from the environment).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import requests

from univac import __version__

USER_AGENT = f"Univac/{__version__} (+chat-ops bot; incidents)"
HIDDEN = "***"
CACHE_SIZE = 256
CACHE_TTL_S = 3600.0


class ConduitError(Exception):
    """A call failed; ``str()`` is for the log (the method and what went wrong)."""

    def __init__(self, method: str, detail: str) -> None:
        super().__init__(f"{method}: {detail}")
        self.method = method


class Unanswered(ConduitError):
    """No usable answer: no connection, a timeout, an HTTP error, no JSON envelope."""


class Refused(ConduitError):
    """Conduit answered with an error: ``code`` (``ERR-...``) and ``info`` (its words)."""

    def __init__(self, method: str, code: str, info: str) -> None:
        super().__init__(method, f"{code}: {info}")
        self.code = code
        self.info = info


class Conduit:
    """Calls methods of the Conduit API at ``url`` (Phabricator's base address)."""

    def __init__(self, url: str, token: str, timeout_s: float) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._token = token
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.headers["User-Agent"] = USER_AGENT
        self._lock = threading.Lock()

    def call(self, method: str, params: Mapping[str, Any]) -> Any:
        """The ``result`` of ``method``; Unanswered or Refused otherwise."""
        body = [("api.token", self._token), *form(params)]
        try:
            with self._lock:
                reply = self._session.post(f"{self.url}/api/{method}", data=body,
                                           timeout=self.timeout_s)
        except requests.Timeout:
            raise Unanswered(method, f"no answer within {self.timeout_s:g} s") from None
        except requests.RequestException as error:
            raise Unanswered(method, self.hide(f"{type(error).__name__}: {error}")) from None
        return self._result(method, reply)

    def _result(self, method: str, reply: requests.Response) -> Any:
        if reply.status_code != 200:
            raise Unanswered(method, f"HTTP {reply.status_code} {reply.reason}")
        try:
            envelope = reply.json()
        except ValueError:
            raise Unanswered(method, "the answer is not JSON") from None
        if not isinstance(envelope, dict) or "result" not in envelope:
            raise Unanswered(method, "the answer is no Conduit envelope")
        if envelope.get("error_code"):
            raise Refused(method, str(envelope["error_code"]),
                          self.hide(str(envelope.get("error_info") or "")))
        return envelope["result"]

    def hide(self, text: str) -> str:
        """``text`` without the token (Conduit quotes a token it does not accept)."""
        return text.replace(self._token, HIDDEN) if self._token else text

    def close(self) -> None:
        self._session.close()


def form(params: Mapping[Any, Any], prefix: str = "") -> list[tuple[str, str]]:
    """``params`` as form fields in PHP's bracket form: ``a[0][type]=title``."""
    fields: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, Mapping):
            fields += form(value, name)
        elif isinstance(value, list | tuple):
            fields += form(dict(enumerate(value)), name)
        elif isinstance(value, bool):
            fields.append((name, "1" if value else "0"))
        else:
            fields.append((name, "" if value is None else str(value)))
    return fields


class PhidCache:
    """Names -> PHIDs: at most ``size`` entries, each kept ``ttl_s`` (a renamed user)."""

    def __init__(self, size: int = CACHE_SIZE, ttl_s: float = CACHE_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._found: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._size, self._ttl_s, self._clock = size, ttl_s, clock
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            found = self._found.get(key)
            if found is None or self._clock() - found[0] > self._ttl_s:
                self._found.pop(key, None)
                return None
            self._found.move_to_end(key)
            return found[1]

    def put(self, key: str, phid: str) -> None:
        with self._lock:
            self._found[key] = (self._clock(), phid)
            self._found.move_to_end(key)
            while len(self._found) > self._size:
                self._found.popitem(last=False)

    def __len__(self) -> int:
        return len(self._found)
