"""End to end: a real IRC client program (weechat-headless) and the univac CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.irc_servers import IrcUser
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def weechat(directory: Path, port: int) -> subprocess.Popen:
    commands = ";".join([
        "/set fifo.file.enabled on",
        "/set fifo.file.path ${weechat_runtime_dir}/weechat_fifo",
        "/set logger.file.flush_delay 0",
        f"/server add t 127.0.0.1/{port} -notls -nicks=wuser -username=wuser "
        "-realname=weechat -autojoin=#test",
        "/connect t",
    ])  # fmt: skip
    return subprocess.Popen(
        ["weechat-headless", "--dir", str(directory), "--stdout", "-P", "irc,fifo,logger",
         "-r", commands],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_weechat_user_talks_to_the_bot(ngircd, irc_bot, tmp_path):
    server = ngircd()
    bot = irc_bot(server.port, channels=("#test",), echo=True)
    wait_for(lambda: "#test" in bot.transport.status().targets, 10, "bot joined")
    client = weechat(tmp_path, server.port)
    try:
        log = tmp_path / "logs" / "irc.t.#test.weechatlog"
        fifo = tmp_path / "weechat_fifo"
        wait_for(lambda: log.exists() and fifo.exists() and "2 nicks" in log.read_text(),
                 15, "weechat in #test")  # fmt: skip
        with open(fifo, "w") as pipe:
            pipe.write("irc.t.#test *!echo hello from weechat\n")
        message = bot.message(timeout=10)
        assert (message.sender, message.text) == ("wuser", "!echo hello from weechat")
        replies = (["univac", "hello from weechat"], ["@univac", "hello from weechat"])
        lines = lambda: log.read_text().splitlines()  # noqa: E731
        wait_for(lambda: any(line.split("\t")[1:] in replies for line in lines()), 10, "reply")
    finally:
        client.terminate()
        client.wait(5)


def test_univac_cli_answers_echo_on_irc(ngircd, tmp_path):
    server = ngircd()
    config = tmp_path / "univac.toml"
    config.write_text(
        f"""
[bot]
plugins = ["echo"]
state_dir = "{tmp_path / 'state'}"

[[transports]]
type = "irc"
host = "127.0.0.1"
port = {server.port}
tls = false
channels = ["#e2e"]
motd_wait_s = 0.2
sts_file = "{tmp_path / 'sts.json'}"
"""
    )
    univac = Path(sys.executable).parent / "univac"
    process = subprocess.Popen([str(univac), "run", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    user = IrcUser(server.port, "carol")
    try:
        user.join("#e2e")
        user.wait(lambda line: " JOIN " in line and line.startswith(":univac!"), 15)
        user.say("#e2e", "!echo hi")
        line = user.wait(lambda line: line.startswith(":univac!") and "PRIVMSG" in line, 10)
        assert line.endswith("PRIVMSG #e2e :hi")
    finally:
        user.close()
        process.terminate()
        output = process.communicate(timeout=10)[0].decode(errors="replace")
    assert process.returncode in (0, -15), output
