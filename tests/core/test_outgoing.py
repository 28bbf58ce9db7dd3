"""What leaves the bot: secrets masked, no CTCP or bidi overrides, clear target errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from univac.engine.handlers import APOLOGY
from univac.engine.router import Router, made_safe
from univac.logs import Masker
from univac.ops.stats import Stats

LEAKY = '''"""A plugin that puts its secret into a refusal, and says to any target."""
from dataclasses import dataclass

from univac import Context, UserError, command, every


@dataclass(frozen=True)
class Settings:
    token: str = ""
    room_passwords: tuple[str, ...] = ()


@command
def login(ctx: Context) -> str:
    """Refuse, naming the token."""
    raise UserError(f"bad token {ctx.config.token}")


@command
def rooms(ctx: Context) -> str:
    """Name the rooms' passwords."""
    return " ".join(p.partition("=")[2] for p in ctx.config.room_passwords)


@command
def tell(ctx: Context, target: str, *, text: str) -> None:
    """Say text to a target."""
    ctx.say(target, text)


@every(3600)
def report(ctx: Context) -> None:
    ctx.say("nosuch:#ops", "hourly report")
'''


@pytest.fixture
def leaky(univac_bot, tmp_path: Path):
    path = tmp_path / "leaky.py"
    path.write_text(LEAKY, encoding="utf-8")
    settings = {"leaky": {"token": "tok-4f9a2c", "room_passwords": ["ops@muc.example=hunter22"]}}
    return univac_bot(str(path), settings=settings, transports=("test", "other"))


def test_a_user_error_never_carries_a_secret_to_chat(leaky) -> None:
    assert leaky.ask("!login") == ["bad token ***"]
    assert leaky.ask("!rooms") == ["***"]


def test_an_unknown_transport_in_say_names_the_configured_ones(leaky, caplog) -> None:
    with caplog.at_level(logging.ERROR):
        assert leaky.ask("!tell nosuch:#ops hi") == [APOLOGY]
    assert ("cannot send to 'nosuch:#ops': no transport named 'nosuch' "
            "(configured: other, test)") in caplog.text
    assert leaky.said() == []
    assert leaky.ask("!tell other:#ops hi") == []
    assert leaky.said() == [("other:#ops", "hi")]
    assert leaky.ask("!tell #test hi") == ["hi"]  # a plain target: this transport


def test_an_unknown_transport_from_a_poller_is_blamed_on_the_transport(leaky, caplog) -> None:
    with caplog.at_level(logging.ERROR), pytest.raises(AssertionError, match="ValueError"):
        leaky.tick("leaky.report")
    assert "no transport named 'nosuch' (configured: other, test)" in caplog.text
    assert "needs a transport" not in caplog.text


def test_echo_relays_no_ctcp_and_no_bidirectional_overrides(univac_bot) -> None:
    bot = univac_bot("echo")
    assert bot.ask("!echo \x01VERSION\x01") == ["VERSION"]
    assert bot.ask("!echo \x01ACTION waves\x01") == ["ACTION waves"]
    assert bot.ask("!echo abc\u202edef\u2066x\u2069 \u202a\u202b\u202c\u202d\u2067\u2068") == [
        "abcdefx "]
    assert bot.ask("!echo café ✓ \u200f") == ["café ✓ \u200f"]  # a plain mark stays


def test_made_safe_keeps_ordinary_text_as_it_is() -> None:
    text = "plain ascii, \x02bold\x02 and \x0304colour"
    assert made_safe(text) is text
    assert made_safe("\x01\x01") == ""


class Recorder:
    name = "rec"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, target: str, text: str) -> None:
        self.sent.append((target, text))


def test_the_router_masks_every_line_it_sends() -> None:
    recorder = Recorder()
    router = Router({"rec": recorder}, Stats(), Masker(["s3cret-value", "ab"]))  # type: ignore[dict-item]
    router.send("rec", "#x", "the secret is s3cret-value, ab is too short to mask")
    router.send("rec", "#x", "s3cret-\x01value")  # stripping cannot uncover a secret
    assert recorder.sent == [("#x", "the secret is ***, ab is too short to mask"),
                             ("#x", "***")]
    with pytest.raises(ValueError, match=r"no transport named 'rex'; did you mean 'rec'\?"):
        router.send("rex", "#x", "hi")
