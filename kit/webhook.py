"""Webhook checks: signatures, tokens, body size, and refusing repeated deliveries.

Part of the plugin kit; runs on the HTTP server's worker threads. GitHub signs a
delivery's body with HMAC-SHA256 under the hook's secret and sends
``X-Hub-Signature-256: sha256=<hex>``; ``verify`` checks it in constant time. A
delivery is known by its id (``X-GitHub-Delivery``, the same when GitHub delivers it
again) and by the digest of its signed body (``marks``); ``Deliveries`` remembers both,
so a repeat of either is answered but not handled twice.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

__all__ = [
    "PREFIX", "SIGNATURE_HEADER", "Deliveries", "Store", "bearer_ok", "headers_of", "marks",
    "read_body", "refusal", "sign", "verify",
]

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


class Store(Protocol):
    """Where ``Deliveries`` keeps its marks: ``ctx.state`` (one record per key)."""

    def __enter__(self) -> Any: ...
    def __exit__(self, *exc_info: object) -> Any: ...
    def get(self, key: str, default: Any = None) -> Any: ...
    def __setitem__(self, key: str, value: Any) -> None: ...
    def __delitem__(self, key: str) -> None: ...
    def keys(self) -> Iterable[str]: ...
    def __contains__(self, key: object) -> bool: ...


def marks(headers: Mapping[str, str], body: bytes) -> list[str]:
    """What identifies a delivery: its ``X-GitHub-Delivery`` id and, when the body is
    signed (``X-Hub-Signature-256``), the SHA-256 of the body.

    The id alone is not enough: it is not signed, so a replayed body with the id removed
    or changed would pass. The body's digest catches those; a sender that signs two
    deliveries with the same body (GitHub does not: each payload differs) would see the
    second answered as a repeat. Bearer-token requests are not digested: Alertmanager
    legitimately repeats identical notifications.
    """
    found = []
    if delivery := headers.get("x-github-delivery", "").strip():
        found.append(f"id:{delivery}")
    if SIGNATURE_HEADER.lower() in headers:
        found.append(f"sha256:{hashlib.sha256(body).hexdigest()}")
    return found


class Deliveries:
    """Handled deliveries, by their marks: claimed while handled, remembered once done.

    Each remembered mark is its own key in ``store`` (``handled:<mark>``, holding a
    sequence number), at least the last ``size`` of them: once there are a sixteenth
    more, the oldest are deleted down to ``size`` in one go. A
    list kept under an older ``legacy_key`` (delivery ids, oldest first) is moved over.
    """

    PREFIX = "handled:"

    def __init__(self, store: Store, size: int, legacy_key: str = "") -> None:
        self._store = store
        self._size = size
        self._lock = threading.Lock()
        self._busy: set[str] = set()
        with store:
            names = store.keys()
            found = {k[len(self.PREFIX):]: int(store.get(k) or 0)
                     for k in names if k.startswith(self.PREFIX)}
            self._done = OrderedDict(sorted(found.items(), key=lambda item: item[1]))
            self._next = max(found.values(), default=0) + 1
            legacy = store.get(legacy_key) if legacy_key else None
            if isinstance(legacy, list):
                added, forgotten = self._remember([f"id:{delivery}" for delivery in legacy])
                self._write(added, forgotten)
                del store[legacy_key]

    def claim(self, marks: Iterable[str]) -> bool:
        """Start handling a delivery; False when any of its marks was handled or is busy.

        The store is asked too, not only this object's index: after a failover the new
        leader's state is reloaded with what the old leader handled since this started.
        """
        wanted = set(marks)
        with self._lock:
            if any(mark in self._done or mark in self._busy or self.PREFIX + mark in self._store
                   for mark in wanted):
                return False
            self._busy |= wanted
            return True

    def done(self, marks: Iterable[str]) -> None:
        """Remember a delivery as handled (forgetting the oldest marks past ``size``).

        The index changes under this object's lock; the store's transaction (a commit
        with its fsync) runs after it, so claims of other deliveries never wait for it.
        """
        with self._lock:
            self._busy -= set(marks)
            added, forgotten = self._remember(list(marks))
        with self._store:
            self._write(added, forgotten)

    def _write(self, added: dict[str, int], forgotten: list[str]) -> None:
        for key, number in added.items():
            self._store[key] = number
        for key in forgotten:
            if key in self._store:
                del self._store[key]

    def release(self, marks: Iterable[str]) -> None:
        """Forget a claim whose handling failed, so a new delivery may try again."""
        with self._lock:
            self._busy -= set(marks)

    def _remember(self, marks: list[str]) -> tuple[dict[str, int], list[str]]:
        """Index ``marks``; the keys to write and the keys to delete from the store."""
        added = {}
        for mark in marks:
            self._done[mark] = added[self.PREFIX + mark] = self._next
            self._next += 1
        forgotten = []
        if len(self._done) > self._size + self._size // 16:  # forget in batches, not per write
            while len(self._done) > self._size:
                oldest, _ = self._done.popitem(last=False)
                forgotten.append(self.PREFIX + oldest)
        return added, forgotten
