"""Webhook checks shared by plugins: signatures, tokens, body size, repeated deliveries.

GitHub signs a delivery's body with HMAC-SHA256 under the hook's secret and sends
``X-Hub-Signature-256: sha256=<hex>``; ``verify`` checks it in constant time. Each
delivery has an id (``X-GitHub-Delivery``) that stays the same when it is delivered
again; ``Deliveries`` remembers the last ids so a repeated one is answered but not
handled twice.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

SIGNATURE_HEADER = "X-Hub-Signature-256"
PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value GitHub would send for ``body``: ``sha256=<hex>``."""
    return PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """True when ``header`` is ``sha256=<hex>`` of ``body`` under ``secret``."""
    if not secret or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


def bearer_ok(token: str, authorization: str) -> bool:
    """True when ``Authorization`` is ``Bearer <token>`` (constant-time compare)."""
    scheme, _, given = authorization.partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.encode(), given.strip().encode())


def refusal(
    headers: Mapping[str, str], body: bytes, secret: str, token: str, allow_unsigned: bool
) -> tuple[int, str] | None:
    """Why a request is not trusted, as (401 or 403, reason); None when it is.

    A signature header is checked against ``secret``, else a bearer ``Authorization``
    against ``token``; a request with neither passes only with ``allow_unsigned``.
    """
    signature = headers.get("x-hub-signature-256")
    if signature is not None:
        ok = verify(secret, body, signature)
        return None if ok else (403, "X-Hub-Signature-256 does not match the body")
    authorization = headers.get("authorization")
    if authorization is not None:
        ok = bearer_ok(token, authorization)
        return None if ok else (403, "the Authorization header is not accepted")
    if allow_unsigned:
        return None
    return 401, "unsigned: send X-Hub-Signature-256 or a bearer token"


def read_body(environ: Mapping[str, Any], limit: int) -> bytes | None:
    """A WSGI request's body, or None when it is longer than ``limit`` bytes."""
    try:
        declared = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = environ["wsgi.input"].read(limit + 1)
    return None if len(body) > limit else body


def headers_of(environ: Mapping[str, Any]) -> dict[str, str]:
    """A WSGI request's headers with lower-case names (``x-github-event``)."""
    found = {k[5:].replace("_", "-").lower(): str(v)
             for k, v in environ.items() if k.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            found[key.replace("_", "-").lower()] = str(environ[key])
    return found


class Deliveries:
    """The last ``size`` delivery ids: claimed while handled, remembered once done.

    ``save`` receives the remembered ids (oldest first) after each change, to persist
    them; it runs under the lock, so keep it short.
    """

    def __init__(
        self, size: int, known: Iterable[str] = (), save: Callable[[list[str]], None] | None = None
    ) -> None:
        self._size = size
        self._done: OrderedDict[str, None] = OrderedDict.fromkeys(list(known)[-size:])
        self._busy: set[str] = set()
        self._save = save
        self._lock = threading.Lock()

    def claim(self, delivery: str) -> bool:
        """Start handling ``delivery``; False when it was handled or is being handled."""
        with self._lock:
            if delivery in self._done or delivery in self._busy:
                return False
            self._busy.add(delivery)
            return True

    def done(self, delivery: str) -> None:
        """Remember ``delivery`` as handled (the oldest id is forgotten past ``size``)."""
        with self._lock:
            self._busy.discard(delivery)
            self._done[delivery] = None
            while len(self._done) > self._size:
                self._done.popitem(last=False)
            if self._save is not None:
                self._save(list(self._done))

    def release(self, delivery: str) -> None:
        """Forget a claim whose handling failed, so a new delivery may try again."""
        with self._lock:
            self._busy.discard(delivery)
