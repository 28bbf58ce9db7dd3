"""SASL for IRC: PLAIN, EXTERNAL, SCRAM-SHA-256 and ECDSA-NIST256P-CHALLENGE.

Layer: transport (IRC adapter); stdlib only. SCRAM imports ``hashlib``, ``hmac`` and
``secrets`` and ECDSA imports ``cryptography`` when used: loading OpenSSL's digests
costs a few milliseconds at every start, for nothing unless the mechanism is set.
The transport's I/O thread runs it. A mechanism turns each server challenge (raw bytes)
into a response, or ``None`` to abort (``AUTHENTICATE *``), e.g. when the SCRAM server
signature does not verify. ``chunks`` does the 400-byte AUTHENTICATE framing.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

Step = Callable[[bytes], bytes | None]


def chunks(data: bytes) -> list[str]:
    """Base64 ``data`` as AUTHENTICATE payloads of 400 bytes, ``+`` closing a full one."""
    encoded = base64.b64encode(data).decode("ascii")
    out = [encoded[i : i + 400] for i in range(0, len(encoded), 400)]
    if not out or len(out[-1]) == 400:
        out.append("+")
    return out


class ChallengeReader:
    """Join a server's chunked AUTHENTICATE payloads; ``None`` until complete."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def feed(self, payload: str) -> bytes | None:
        """Feed one AUTHENTICATE parameter; return the decoded challenge when complete."""
        if payload != "+":
            self.parts.append(payload)
        if payload != "+" and len(payload) == 400:
            return None
        data, self.parts = "".join(self.parts), []
        return base64.b64decode(data, validate=False) if data else b""


def plain(user: str, password: str) -> Step:
    """PLAIN: one response with the authorisation and authentication identities."""
    return lambda _challenge: f"{user}\0{user}\0{password}".encode()


def external(user: str = "") -> Step:
    """EXTERNAL: the client certificate speaks; send the (usually empty) authzid."""
    return lambda _challenge: user.encode()


def _escape(name: str) -> str:
    return name.replace("=", "=3D").replace(",", "=2C")


class Scram:
    """SCRAM-SHA-256 (RFC 5802/7677) without channel binding; verifies the server."""

    def __init__(self, user: str, password: str, nonce: str = "") -> None:
        import secrets

        self.password = password.encode()
        self.nonce = nonce or secrets.token_urlsafe(24)
        self.first_bare = f"n={_escape(user)},r={self.nonce}"
        self.state = "start"
        self.server_signature = b""

    def __call__(self, challenge: bytes) -> bytes | None:
        """Advance one step; ``None`` means abort."""
        try:
            return getattr(self, f"_{self.state}")(challenge)
        except (ValueError, KeyError):
            return None

    def _start(self, _challenge: bytes) -> bytes:
        self.state = "first"
        return b"n,," + self.first_bare.encode()

    def _first(self, challenge: bytes) -> bytes | None:
        import hashlib

        server_first = challenge.decode()
        fields = dict(item.split("=", 1) for item in server_first.split(","))
        if not fields["r"].startswith(self.nonce) or int(fields["i"]) < 1:
            return None
        salted = hashlib.pbkdf2_hmac(
            "sha256", self.password, base64.b64decode(fields["s"]), int(fields["i"])
        )
        without_proof = f"c=biws,r={fields['r']}"
        auth = f"{self.first_bare},{server_first},{without_proof}".encode()
        client_key = _hmac(salted, b"Client Key")
        signature = _hmac(hashlib.sha256(client_key).digest(), auth)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self.server_signature = _hmac(_hmac(salted, b"Server Key"), auth)
        self.state = "final"
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def _final(self, challenge: bytes) -> bytes | None:
        import hmac

        fields = dict(item.split("=", 1) for item in challenge.decode().split(","))
        if "v" not in fields:
            return None
        given = base64.b64decode(fields["v"])
        if not hmac.compare_digest(given, self.server_signature):
            return None
        self.state = "done"
        return b""

    def _done(self, _challenge: bytes) -> None:
        return None


def _hmac(key: bytes, data: bytes) -> bytes:
    import hmac

    return hmac.digest(key, data, "sha256")


class Ecdsa:
    """ECDSA-NIST256P-CHALLENGE: send the account, then sign the server's challenge."""

    def __init__(self, user: str, key_file: str) -> None:
        self.user = user
        self.key_file = key_file
        self.sent_user = False

    def __call__(self, challenge: bytes) -> bytes | None:
        """First step: the account name; second: the DER signature of the challenge."""
        if not self.sent_user:
            self.sent_user = True
            return self.user.encode()
        try:
            return _ecdsa_sign(self.key_file, challenge)
        except (OSError, ValueError, ImportError):
            return None


def _ecdsa_sign(key_file: str, challenge: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    with open(key_file, "rb") as handle:
        key = serialization.load_pem_private_key(handle.read(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("not an EC key")
    return key.sign(challenge, ec.ECDSA(utils.Prehashed(hashes.SHA256())))


def mechanism(name: str, user: str, password: str, key_file: str) -> Step:
    """The step function for a configured mechanism name."""
    if name == "PLAIN":
        return plain(user, password)
    if name == "EXTERNAL":
        return external()
    if name == "SCRAM-SHA-256":
        return Scram(user, password)
    if name == "ECDSA-NIST256P-CHALLENGE":
        return Ecdsa(user, key_file)
    raise ValueError(f"unknown SASL mechanism {name!r}")
