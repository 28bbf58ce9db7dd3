"""The test harness: drive the real dispatcher through a fake transport. Layer: core.

Plugin tests (ours and yours) look like this::

    def test_echo(univac_bot):
        bot = univac_bot("echo")
        assert bot.ask("!echo hi") == ["hi"]

``univac_bot`` is a pytest fixture that Univac installs (see ``univac.pytest_plugin``);
outside pytest, use ``Harness`` directly and ``close()`` it. ``ask`` delivers one message,
waits (with a deadline) until every handler it started has finished, and returns what
was sent to where the message came from since the last look (replies of handlers still
running from earlier messages included); ``tick`` runs a poller once, now, with
``ctx.now()`` set to the time you give (a skip or a retry-after is not a failure).

A plugin that fails to load (a syntax error, a bad setting, a missing file, a failing
``setup``) is disabled, as in a running bot. The harness then refuses to ``ask``,
``tick``, ``said`` or ``wait`` and raises ``PluginError`` with every load error, so a
test fails with the reason rather than with an empty reply. A test that expects the
failure reads ``bot.errors`` first (``{"plugins.name": reason}``); from then on the
harness works with the plugins that did load.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from univac.config import from_mapping
from univac.engine.bot import Bot
from univac.errors import PluginError
from univac.message import Deliver, Message
from univac.settings import Source
from univac.transport import TransportStatus

TEST_TRANSPORT = "test"
log = logging.getLogger("univac.testing")


class FakeTransport:
    """A transport that records what the bot sends."""

    def __init__(self, name: str, nick: str) -> None:
        self.name = name
        self.nick = nick
        self.sent: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def run(self, deliver: Deliver) -> None:
        """Not used by the harness: messages come through ``Harness.ask``."""

    def send(self, target: str, text: str) -> None:
        with self._lock:
            self.sent.append((target, text))

    def take(self) -> list[tuple[str, str]]:
        """Return and forget everything sent so far."""
        with self._lock:
            taken, self.sent = self.sent, []
        return taken

    def stop(self, goodbye: str = "") -> None:
        """Nothing to stop."""

    def status(self) -> TransportStatus:
        return TransportStatus("connected", self.nick, ("#test",), "fake transport")


class Harness:
    """A bot with the given plugins, fake transports and a temporary state folder."""

    def __init__(
        self,
        *plugins: str | ModuleType,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
        bot: Mapping[str, Any] | None = None,
        state_dir: Path | None = None,
        transports: Iterable[str] = (TEST_TRANSPORT,),
        nick: str = "univac",
        clock: Any = None,
        roles: Mapping[str, Mapping[str, list[str]]] | None = None,
        access: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._tmp = None if state_dir else tempfile.TemporaryDirectory(prefix="univac-test-")
        folder = state_dir or Path(self._tmp.name if self._tmp else ".")
        names = [_plugin_name(p) for p in plugins] or ["echo"]
        table = {"plugins": names, "state_dir": str(folder), "user_rate": 0.0, "channel_rate": 0.0}
        data = {"bot": table | dict(bot or {}), "plugins": dict(settings or {})}
        data |= {"roles": dict(roles or {}), "access": dict(access or {})}
        data["transports"] = [{"type": "console", "name": name} for name in transports]
        config = from_mapping(data, Source("<test>", Path.cwd()))
        self.nick = nick
        self.fakes = {name: FakeTransport(name, nick) for name in transports}
        extra = {"clock": clock} if clock else {}
        self.bot = Bot(config, transports=self.fakes, **extra)
        self._errors = self.bot.plugin_errors
        self._errors_read = False
        for issue in config.plugin_issues:  # setup() failures are logged by the Bot
            log.error("%s (plugin disabled)", issue)

    @property
    def errors(self) -> dict[str, str]:
        """Load errors of disabled plugins, by key; reading them says the test expects them."""
        self._errors_read = True
        return self._errors

    def _loaded(self) -> None:
        """PluginError naming every load error, unless the test has read ``errors``."""
        if self._errors and not self._errors_read:
            lines = "\n".join(f"  {key}: {reason}" for key, reason in self._errors.items())
            raise PluginError("plugins failed to load (read bot.errors first if the test "
                              f"expects this):\n{lines}")

    def ask(
        self,
        text: str,
        *,
        sender: str = "tester",
        target: str = "#test",
        private: bool = False,
        identity: str = "",
        transport: str = TEST_TRANSPORT,
        timeout: float = 10.0,
    ) -> list[str]:
        """Deliver one message; return the texts sent back to where it came from."""
        self._loaded()
        where = sender if private else target
        message = Message(
            transport=transport, target=where, sender=sender, text=text,
            private=private, identity=identity or f"test:{sender}", bot_nick=self.nick,
        )
        with self.bot.pool.batch() as batch:
            self.bot.dispatcher.deliver(message)
        if not batch.wait(timeout):
            raise TimeoutError(f"handlers for {text!r} still busy after {timeout} s")
        return [said for to, said in self.fakes[transport].take() if to == where]

    def tick(self, poller: str, now: datetime | None = None) -> list[tuple[str, str]]:
        """Run the poller named ``plugin.function`` (or just ``plugin``) once now.

        Returns every ``(target, text)`` sent while it ran, on any fake transport, with
        the target written ``transport:target``.
        """
        self._loaded()
        found = [p for p in self.bot.pollers if poller in (p.name, p.handler.plugin)]
        if len(found) != 1:
            raise LookupError(f"no single poller named {poller!r}")
        if found[0].run_once(now).kind == "failed":
            raise AssertionError(f"poller {poller} failed: {found[0].last_error}")
        return self.said()

    def said(self) -> list[tuple[str, str]]:
        """Everything sent so far on any fake transport, as (``transport:target``, text)."""
        self._loaded()
        return [(f"{n}:{to}", text) for n, fake in self.fakes.items() for to, text in fake.take()]

    def wait(self, timeout: float = 10.0) -> None:
        """Wait until no handler is queued or running; TimeoutError after ``timeout``."""
        self._loaded()
        if not self.bot.pool.wait_idle(timeout):
            raise TimeoutError(f"handlers still busy after {timeout} s")

    def close(self) -> None:
        """Shut the bot down and remove the temporary state folder."""
        self.bot.shutdown()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _plugin_name(plugin: str | ModuleType) -> str:
    if isinstance(plugin, ModuleType):
        file = getattr(plugin, "__file__", None)
        if not file:
            raise ValueError(f"module {plugin.__name__} has no file to load")
        return file
    return plugin
