"""Univac's error tree. Layer: core; raised and caught on any thread.

    UnivacError
    ├── ConfigError      bad configuration: stops start-up with a clear message
    ├── SettingsError    a settings dataclass's problems, by key (also a ValueError)
    ├── PluginError      one plugin cannot load or set up: that plugin is disabled
    ├── TransportError   a transport failed: the transport reconnects or is restarted
    └── UserError        refuse a chat request: its text is the reply
        ├── UsageError   bad command arguments: the reply is the command's usage
        └── StoreError   the state store cannot read or write: nothing was changed
            └── StaleEpochError   a write from a deposed leader, refused (fencing)

Broad ``except Exception`` appears only at boundaries, where code we do not control
(a plugin's, a transport's, a library's) is called and one failure must not take more
down with it. Each logs the traceback and says what happens next. The list is whole:

- Handler boundaries, ``univac/engine/handlers.py``: a command (``UserError`` is the
  reply, anything else the fixed apology), a matcher (logged only), a poller run (a
  failure: backoff), a webhook (400 for ``UserError``, else 500).
- The dispatcher, ``Dispatcher.deliver`` in ``univac/engine/dispatch.py``: a message
  that cannot be dispatched is dropped; the transport's I/O thread goes on.
- The worker loop, ``univac/engine/reactive.py``: a last resort under the handler
  boundaries; the reactive thread goes on.
- The supervisor, ``univac/engine/supervisor.py``: a transport or poller thread that
  raised is restarted with backoff.
- Plugin and transport code at start and stop, ``univac/engine/bot.py``: import,
  settings or ``setup`` (that plugin is disabled), a transport's constructor (a
  ``ConfigError``), ``status()`` asked by the main loop ("unknown"), a teardown
  (logged; the others still run). Likewise ``univac/engine/loader.py`` (importing a
  plugin or transport: ``PluginError``), ``univac/arguments.py`` (reading a command's
  annotations: ``PluginError``) and ``univac check`` in ``univac/cli.py``.
- Transports: the IRC connection loop (``transports/irc/transport.py``: redial) and
  one incoming IRC line (``transports/irc/link.py``: dropped). The http plugin's
  request handler answers 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


class UnivacError(Exception):
    """Base of every error Univac raises on purpose."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration file: where it is and why it is wrong."""

    file: str
    key: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        return f"{where}: {self.reason}"


class ConfigError(UnivacError):
    """The configuration is invalid; carries every issue found, not only the first."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class PluginError(UnivacError):
    """A plugin cannot be loaded or set up; that plugin alone is disabled."""


class TransportError(UnivacError):
    """A transport lost or could not make its connection."""


class UserError(UnivacError):
    """Refuse a chat request politely: the message is sent to chat as the reply."""


class UsageError(UserError):
    """The arguments of a command do not fit its signature."""


class StoreError(UserError):
    """The state store could not read or write; the change did not land.

    Its text is safe for chat (a handler that lets it escape answers with it); the
    detail (the database's own message) is in the log. Nothing already stored is lost.
    """


class StaleEpochError(StoreError):
    """A write carried an epoch older than the leader lease's: refused (fencing)."""


class SettingsError(UnivacError, ValueError):
    """Raised by a settings dataclass's ``__post_init__`` to report every problem at once.

    ``problems`` maps a setting's name to the reason, for example
    ``SettingsError({"port": "must be 0..65535", "user_rate": "must be at least 0"})``;
    the configuration reader reports each under its own key (``transports[2].port``).
    A plain ``ValueError`` still works and is reported under the table's key.
    """

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{key}: {reason}" for key, reason in self.problems.items()))
