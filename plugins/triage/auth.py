"""GitHub credentials: a personal token, or a GitHub App's installation token.

Layer: plugin; any thread (one lock around a refresh). A GitHub App proves itself
with a JSON Web Token signed RS256 with its private key (PyJWT), valid ten minutes at
most, and exchanges it for an installation token (``POST /app/installations/{id}/
access_tokens``), which GitHub keeps valid for an hour: it is taken again after
``REFRESH_S`` (45 minutes), or sooner when GitHub says it expires.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import jwt
import requests

REFRESH_S = 45 * 60.0
JWT_LIFETIME_S = 9 * 60
JWT_BACKDATE_S = 60
"""GitHub's advice: issue the JWT a minute in the past, against clock drift."""


class AuthError(Exception):
    """The App's token could not be had (GitHub unreachable, key or id refused)."""


class TokenAuth:
    """A personal access token, sent as it is."""

    def __init__(self, token: str) -> None:
        self._token = token.strip()

    def header(self) -> str:
        return f"Bearer {self._token}"

    def describe(self) -> str:
        return "personal token"


@dataclass
class _Held:
    token: str = ""
    taken: float = 0.0
    valid_s: float = 0.0
    """How long GitHub said it holds, from when it was taken."""


class AppAuth:
    """An App installation's token, taken with a signed JWT and refreshed in time."""

    def __init__(self, app_id: str, key_pem: str, installation: str, api_url: str,
                 post: Callable[..., requests.Response], timeout_s: float,
                 wall: Callable[[], float] = time.time) -> None:
        self.app_id = app_id.strip()
        self._key = key_pem
        self.installation = installation.strip()
        self._url = f"{api_url.rstrip('/')}/app/installations/{self.installation}/access_tokens"
        self._post = post
        self._timeout_s = timeout_s
        self._wall = wall
        self._lock = threading.Lock()
        self._held = _Held()
        self.refreshes = 0

    def app_jwt(self) -> str:
        """The App's JWT, signed now (on the wall clock: GitHub checks it on its own)."""
        issued = int(self._wall()) - JWT_BACKDATE_S
        claims = {"iat": issued, "exp": issued + JWT_BACKDATE_S + JWT_LIFETIME_S,
                  "iss": self.app_id}
        return jwt.encode(claims, self._key, algorithm="RS256")

    def header(self) -> str:
        """``token <installation token>``, taken again when 45 minutes old."""
        now = self._wall()
        with self._lock:
            held = self._held
            if not held.token or now - held.taken >= min(REFRESH_S, held.valid_s - 60):
                self._held = held = self._refresh(now)
            return f"token {held.token}"

    def describe(self) -> str:
        return f"GitHub App {self.app_id}, installation {self.installation}"

    def _refresh(self, now: float) -> _Held:
        try:
            reply = self._post(self._url, headers={"Authorization": f"Bearer {self.app_jwt()}"},
                               timeout=self._timeout_s)
        except requests.RequestException as error:
            raise AuthError(f"installation token: {type(error).__name__}") from None
        except (ValueError, TypeError) as error:  # PyJWT: a key it cannot use
            raise AuthError(f"cannot sign the App's JWT: {error}") from None
        if reply.status_code != 201:
            raise AuthError(f"installation token: HTTP {reply.status_code}")
        body = reply.json()
        self.refreshes += 1
        valid_s = _expiry(body.get("expires_at"), now) - now
        return _Held(str(body["token"]), now, max(valid_s, 120.0))


def _expiry(stamp: object, wall: float) -> float:
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return wall + 3600.0
