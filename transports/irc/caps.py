"""IRCv3 capability negotiation (``CAP LS 302``), SASL and STS for one connection.

Layer: transport (IRC adapter); stdlib + ``univac``. The transport's I/O thread runs it.
Copes with servers that ignore CAP, answer it with 421, or register us before
``CAP END``. ``sasl`` is requested whenever it is offered; a configured mechanism the
server does not offer (``sasl=...`` in ``CAP LS``, or 908) is then not tried, and like a
failed login it ends the connection with a QUIT saying why, as an auth failure (long
backoff), unless SASL is optional: then ``CAP END`` and registration goes on without it.
A stored STS policy's expiry is moved to close time + duration when a TLS link closes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from . import net
from .lines import Line, build
from .sasl import ChallengeReader, Step, chunks, mechanism
from .state import Closed, Link

log = logging.getLogger("univac.transports.irc")

WANTED = (
    "account-notify",
    "account-tag",
    "batch",
    "cap-notify",
    "chghost",
    "extended-join",
    "message-tags",
    "multi-prefix",
    "server-time",
    "znc.in/server-time-iso",
)


@dataclass(frozen=True)
class SaslConfig:
    """What SASL needs from the settings."""

    mechanism: str = ""
    user: str = ""
    password: str = ""
    key_file: str = ""
    required: bool = True


class Caps:
    """One connection's CAP state machine; methods return lines to send at once."""

    def __init__(self, sasl: SaslConfig, echo: bool, sts_path: str, host: str, port: int):
        self.sasl = sasl
        self.wanted = (*WANTED, "echo-message") if echo else WANTED
        self.sts_path, self.host, self.port = sts_path, host, port
        self.offered: dict[str, str] = {}
        self.ended = False
        self.step: Step | None = None
        self.reader = ChallengeReader()
        self.failure = ""
        self.not_offered = ""
        self.warned = False

    def end(self) -> list[str]:
        """``CAP END`` once."""
        if self.ended:
            return []
        self.ended = True
        return ["CAP END"]

    def on_cap(self, link: Link, line: Line, now: float) -> list[str]:
        """Handle ``CAP <nick> LS|ACK|NAK|NEW|DEL ...``."""
        sub = line.arg(1).upper()
        if sub in ("LS", "NEW"):
            self.offered.update(_tokens(line.arg(-1)))
            self._check_sts(link, now)
            if sub == "LS" and line.arg(2) == "*" and len(line.params) > 3:
                return []
            return self._request(link) if sub == "LS" else []
        if sub == "ACK":
            link.caps.update(name.lstrip("-~=") for name in line.arg(-1).split())
            return self._after_ack(link)
        if sub == "NAK":
            self._require_sasl("the server refused CAP REQ")
            return self.end()
        return []

    def _check_sts(self, link: Link, now: float) -> None:
        if "sts" not in self.offered:
            return
        policy = net.parse_sts(self.offered["sts"])
        if not link.tls and policy.get("port", "").isdigit():
            raise Closed("STS: upgrading to TLS", "now", int(policy["port"]), quit=True)
        if link.tls and policy.get("duration", "").isdigit():
            duration = int(policy["duration"])
            net.save_sts(self.sts_path, self.host, self.port, duration, time.time())

    def _request(self, link: Link) -> list[str]:
        if self.sasl.mechanism:
            self._check_mechanism()
        want = [c for c in self.wanted if c in self.offered]
        if self.sasl.mechanism and "sasl" in self.offered:
            want.append("sasl")
        return [build("CAP", "REQ", trailing=" ".join(want))] if want else self.end()

    def _check_mechanism(self) -> None:
        if "sasl" not in self.offered:
            self._require_sasl("the server offers no SASL")
            return
        offered = [m.upper() for m in self.offered["sasl"].split(",") if m]
        if offered and self.sasl.mechanism not in offered:  # still requested: see _after_ack
            self.not_offered = _not_offered(self.sasl.mechanism, offered)

    def _require_sasl(self, reason: str) -> None:
        self.failure = reason
        if self.sasl.mechanism and self.sasl.required:
            raise Closed(reason, "auth", quit=True)
        if self.sasl.mechanism and not self.warned:
            self.warned = True
            log.warning("irc: %s; going on without an account (sasl_required = false)", reason)

    def _after_ack(self, link: Link) -> list[str]:
        if "sasl" in link.caps and self.sasl.mechanism and self.step is None:
            if self.not_offered:  # trying the mechanism cannot succeed
                self._require_sasl(self.not_offered)
                return self.end()
            cfg = self.sasl
            self.step = mechanism(cfg.mechanism, cfg.user, cfg.password, cfg.key_file)
            return [build("AUTHENTICATE", cfg.mechanism)]
        return self.end()

    def on_authenticate(self, line: Line) -> list[str]:
        """Answer one (possibly chunked) server challenge."""
        if self.step is None:
            return []
        challenge = self.reader.feed(line.arg(0, "+"))
        if challenge is None:
            return []
        response = self.step(challenge)
        if response is None:
            self.failure = "SASL: the server's answer did not verify"
            return ["AUTHENTICATE *"]
        return [build("AUTHENTICATE", chunk) for chunk in chunks(response)]

    def on_numeric(self, link: Link, line: Line) -> list[str]:
        """SASL numerics 900-908."""
        code = line.command
        if code == "900":
            link.account = line.arg(2)
        if code == "908":
            offered = [m.upper() for m in line.arg(1).split(",") if m]
            if self.sasl.mechanism not in offered:
                self.failure = _not_offered(self.sasl.mechanism, offered)
        if code in ("903", "907"):
            return self.end()
        if code in ("902", "904", "905", "906"):
            reason = self.failure or f"SASL login failed ({code}: {line.arg(-1)})"
            self._require_sasl(reason)
            return self.end()
        return []

    def on_closed(self, link: Link, now: float) -> None:
        """The link closed: a stored STS policy now expires ``duration`` from ``now``
        (IRCv3 STS: clients MUST reschedule the expiry when closing a connection)."""
        if not link.tls:
            return
        try:
            net.reschedule_sts(self.sts_path, self.host, now)
        except OSError as error:
            log.warning("irc: cannot update the STS policy in %s: %s", self.sts_path, error)

    def on_registered(self, link: Link) -> None:
        """001 arrived: a required SASL login must have happened by now."""
        self.ended = True
        if self.sasl.mechanism and not link.account:
            self._require_sasl(self.failure or "registered without a SASL login")


def _not_offered(mechanism: str, offered: list[str]) -> str:
    return f"SASL {mechanism} not offered (server offers {', '.join(offered)})"


def _tokens(text: str) -> dict[str, str]:
    pairs = (token.partition("=") for token in text.split())
    return {key.lower(): value for key, _sep, value in pairs if key}
