"""Sockets for IRC: cancellable connect, TLS (CA file, pinning, client cert), STS store.

Layer: transport (IRC adapter); stdlib only. The transport's I/O thread runs it.
``ssl`` and ``hashlib`` are imported where TLS needs them: a plain-text connection
does not pay for loading OpenSSL at start.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl


class NetError(Exception):
    """Connecting, the TLS handshake or certificate checks failed."""


def connect(host: str, port: int, timeout: float, cancelled: Callable[[], bool]) -> socket.socket:
    """Open a TCP connection within ``timeout``; give up early when ``cancelled()``."""
    errors = []
    # An ASCII name goes as bytes: a str would load the IDNA codec first (about 1 ms).
    name = host.encode("ascii") if host.isascii() else host
    try:
        infos = socket.getaddrinfo(name, port, 0, socket.SOCK_STREAM)
    except OSError as error:
        raise NetError(f"cannot resolve {host}: {error}") from error
    for family, kind, proto, _name, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            _connect_one(sock, address, time.monotonic() + timeout, cancelled)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as error:
            sock.close()
            errors.append(f"{address}: {error}")
    raise NetError("; ".join(errors) or f"no address for {host}")


def _connect_one(sock: socket.socket, address: tuple, deadline: float, cancelled) -> None:
    sock.setblocking(False)
    code = sock.connect_ex(address)
    if code not in (0, 115, 36, 10035):  # EINPROGRESS / WSAEWOULDBLOCK
        raise OSError(code, os.strerror(code))
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_WRITE)
        while not sel.select(min(0.2, max(0.0, deadline - time.monotonic()))):
            if cancelled():
                raise OSError("connect cancelled")
            if time.monotonic() >= deadline:
                raise OSError("connect timed out")
    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if code:
        raise OSError(code, os.strerror(code))


def tls_context(verify: bool, ca_file: str, pinned: bool, cert: str, key: str) -> ssl.SSLContext:
    """A client context: CA-verified by default; a pin replaces CA checks."""
    import ssl

    context = ssl.create_default_context(cafile=ca_file or None)
    if pinned or not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(cert, key or None)
    return context


def wrap(sock: socket.socket, context: ssl.SSLContext, name: str, timeout: float,
         cancelled: Callable[[], bool]) -> ssl.SSLSocket:
    """Do the TLS handshake within ``timeout``; give up early when ``cancelled()``."""
    import ssl

    deadline = time.monotonic() + timeout
    try:
        tls = context.wrap_socket(sock, server_hostname=name, do_handshake_on_connect=False)
        with selectors.DefaultSelector() as sel:
            sel.register(tls, selectors.EVENT_READ)
            while not _handshake_done(tls, sel):
                if cancelled():
                    raise OSError("handshake cancelled")
                if time.monotonic() >= deadline:
                    raise TimeoutError("handshake timed out")
                sel.select(min(0.2, max(0.0, deadline - time.monotonic())))
        return tls
    except (OSError, ssl.SSLError) as error:
        sock.close()
        raise NetError(f"TLS handshake: {error}") from error


def _handshake_done(tls: ssl.SSLSocket, sel: selectors.BaseSelector) -> bool:
    """One step of a non-blocking handshake; on False, ``sel`` waits for what it needs."""
    import ssl

    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        sel.modify(tls, selectors.EVENT_READ)
        return False
    except ssl.SSLWantWriteError:
        sel.modify(tls, selectors.EVENT_WRITE)
        return False
    return True


def fingerprint(sock: ssl.SSLSocket) -> str:
    """SHA-256 of the peer certificate (DER), lower-case hex."""
    import hashlib

    der = sock.getpeercert(binary_form=True) or b""
    return hashlib.sha256(der).hexdigest()


def normalize_fingerprint(text: str) -> str:
    """Accept ``AB:CD:..`` or ``abcd..``; return lower-case hex."""
    return text.replace(":", "").replace(" ", "").lower()


def default_sts_path() -> str:
    """``$XDG_STATE_HOME/univac/irc-sts.json`` (``~/.local/state`` by default)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "univac", "irc-sts.json")


def parse_sts(value: str) -> dict[str, str]:
    """``port=6697,duration=300`` -> ``{"port": "6697", "duration": "300"}``."""
    pairs = (item.partition("=") for item in value.split(",") if item)
    return {key.strip().lower(): val.strip() for key, _sep, val in pairs}


def load_sts(path: str, host: str, now: float) -> int | None:
    """The STS port for ``host`` while its policy holds, else ``None``."""
    try:
        policy = json.loads(Path(path).read_text()).get(host.lower())
        if policy and float(policy["expires"]) > now:
            return int(policy["port"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    return None


def save_sts(path: str, host: str, port: int, duration: float, now: float) -> None:
    """Remember (or with duration 0 forget) the policy for ``host``; atomic write."""
    data = _read_sts(path)
    if duration > 0:
        data[host.lower()] = {"port": port, "duration": duration, "expires": now + duration}
    else:
        data.pop(host.lower(), None)
    _write_sts(path, data)


def reschedule_sts(path: str, host: str, now: float) -> None:
    """Move the expiry of ``host``'s stored policy to ``now`` + its duration (done when
    a connection closes); a policy stored without a duration is left as it is."""
    data = _read_sts(path)
    policy = data.get(host.lower())
    try:
        duration = float(policy["duration"]) if isinstance(policy, dict) else 0.0
    except (KeyError, TypeError, ValueError):
        return
    if duration > 0:
        policy["expires"] = now + duration
        _write_sts(path, data)


def _read_sts(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_sts(path: str, data: dict) -> None:
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    temp = file.with_suffix(".tmp")
    temp.write_text(json.dumps(data))
    os.replace(temp, file)
