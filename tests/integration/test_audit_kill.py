"""A kill -9 during a burst of audited actions loses no completed record, leaves no bad line."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.integration.botprocess import BotProcess

PLUGIN = '''\
"""A privileged command for the audit test."""
from univac import Context, command


@command(requires="ops")
def act(ctx: Context, number: int) -> str:
    """Do a privileged thing."""
    return f"done {number}"
'''

CONFIG = """\
[bot]
plugins = ["act.py"]
state_dir = "state"
max_reactive = 4
queue_size = 5000

[roles.ops]
console = ["console:*"]

[[transports]]
type = "console"
user = "operator"
"""


def test_kill_during_a_burst_keeps_every_completed_record(tmp_path: Path) -> None:
    (tmp_path / "act.py").write_text(PLUGIN, encoding="utf-8")
    config = tmp_path / "univac.toml"
    config.write_text(CONFIG, encoding="utf-8")
    bot = BotProcess("--config", str(config), cwd=tmp_path)
    bot.send("\n".join(f"!act {n}" for n in range(3000)))
    answered = bot.expect(count=300, timeout=60)
    bot.process.send_signal(signal.SIGKILL)
    assert bot.finish(timeout=10, close_stdin=False) == -signal.SIGKILL
    while not bot.lines.empty():
        answered.append(bot.lines.get())

    raw = (tmp_path / "state" / "audit.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    records = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    done = {r["arguments"] for r in records if r["outcome"] == "done"}
    numbers = {line.removeprefix("done ") for line in answered}
    assert len(numbers) >= 300
    assert len(done) < 3000, "the kill should land in the middle of the burst"
    assert numbers <= done
    assert all(r["identity"] == "console:operator" for r in records)
