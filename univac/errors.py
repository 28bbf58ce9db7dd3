"""Univac's error tree. Layer: core; raised and caught on any thread.

    UnivacError
    ├── ConfigError      bad configuration: stops start-up with a clear message
    ├── PluginError      one plugin cannot load or set up: that plugin is disabled
    ├── TransportError   a transport failed: the transport reconnects or is restarted
    └── UserError        refuse a chat request: its text is the reply
        ├── UsageError   bad command arguments: the reply is the command's usage
        └── StoreError   the state store cannot read or write: nothing was changed
            └── StaleEpochError   a write from a deposed leader, refused (fencing)

Broad ``except Exception`` appears only at three boundaries: the reactive thread,
the poller tick and the transport loop.
"""

from __future__ import annotations

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
