"""End to end on a real IRC server (ngircd): Corto's users type exactly what they typed
to Corto, to the ``univac`` command running the incidents plugin with ``corto_compat``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.irc_servers import IrcUser

pytestmark = pytest.mark.integration
UNIVAC = Path(sys.executable).parent / "univac"
ALICE = "mask:alice!~alice@127.0.0.1"  # ngircd without ident: the user name gets a ~


class IncidentBot:
    """``univac`` with the incidents plugin on an IRC server, in ``#sre``."""

    def __init__(self, tmp_path: Path, port: int) -> None:
        self.dir = tmp_path
        config = tmp_path / "univac.toml"
        config.write_text(f"""
[bot]
plugins = ["incidents", "version", "help"]
state_dir = "state"
user_burst = 30     # the test types faster than people do

[roles.sre]
irc = ["mask:alice!*@*"]

[plugins.incidents]
writers = "sre"
channels = ["#sre"]
corto_compat = true
folder = "state/incidents"

[[transports]]
type = "irc"
host = "127.0.0.1"
port = {port}
tls = false
channels = ["#sre"]
motd_wait_s = 0.2
sts_file = "{tmp_path / 'sts.json'}"
""")
        self.log = (tmp_path / "log").open("w")
        self.process = subprocess.Popen(
            [str(UNIVAC), "--config", str(config)], cwd=tmp_path, stdout=subprocess.DEVNULL,
            stderr=self.log, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def stop(self) -> list[dict]:
        """Stop the bot cleanly; its audit records."""
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(20) == 0, (self.dir / "log").read_text()
        self.log.close()
        audit = (self.dir / "state" / "audit.jsonl").read_text()
        return [json.loads(line) for line in audit.splitlines()]


def ask(user: IrcUser, text: str) -> str:
    """Say ``text`` in #sre; the bot's next line there."""
    user.say("#sre", text)
    line = user.wait(lambda line: line.startswith(":univac!") and "PRIVMSG #sre :" in line, 20)
    return line.split("PRIVMSG #sre :", 1)[1]


def test_cortos_users_type_what_they_typed_before(ngircd, tmp_path):
    server = ngircd()
    alice = IrcUser(server.port, "alice")
    alice.join("#sre")
    bot = IncidentBot(tmp_path, server.port)
    try:
        alice.wait(lambda line: line.startswith(":univac!") and " JOIN " in line, 30)
        created = ask(alice, "univac: create Elevated 5xx rate on the API gateway")
        found = re.fullmatch(r"Created (inc_\d{8}_\d{4}_[0-9a-f]{6}) \(#1\): P2 general \(prod\)"
                             r"\. Document: .*", created)
        assert found, created
        incident = found.group(1)
        assert re.fullmatch(rf"#1 {incident} P2 general open, no coordinator, \d+s: Elevated "
                            r"5xx rate on the API gateway", ask(alice, "univac: list"))
        assert ask(alice, f"univac: log {incident} rolled back to 1.4.1") == \
            f"Logged on {incident}."
        assert ask(alice, "univac: note -p api still warm, watch the error budget").startswith(
            "Noted for the handover of the shift ")
        assert ask(alice, "univac: notes -p").startswith("No handover notes for the prior shift")
        assert ask(alice, f"univac: set-coordinator {incident} carol") == \
            f"carol now coordinates {incident}."
        assert ask(alice, f"univac: resolve {incident}") == f"Resolved {incident}."
        assert ask(alice, "univac: list") == "No open incidents."
        assert ask(alice, "univac: version").startswith("Univac ")
        assert ask(alice, "univac: help").startswith(
            "Commands: corto, create, help, incident, version")
        carol = IrcUser(server.port, "carol")
        carol.join("#sre")
        assert ask(carol, "univac: create not mine to make") == \
            "You need the 'sre' role to create incidents."
        carol.close()
    finally:
        alice.close()
        records = bot.stop()
    writes = [(r["action"], r["outcome"], r["identity"]) for r in records
              if r["action"].startswith("incident.")]
    assert writes == [
        ("incident.create", "done", ALICE),
        ("incident.log", "done", ALICE),
        ("incident.note", "done", ALICE),
        ("incident.coordinator", "done", ALICE),
        ("incident.resolve", "done", ALICE),
        ("incident.create", "refused", "mask:carol!~carol@127.0.0.1"),
    ]
    snapshots = [json.loads(line) for line in
                 (tmp_path / "state" / "incidents" / "incidents.jsonl").read_text().splitlines()]
    assert (snapshots[-1]["id"], snapshots[-1]["status"], snapshots[-1]["coordinator"]) == (
        incident, "resolved", "carol")
