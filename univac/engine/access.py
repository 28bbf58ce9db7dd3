"""Who may run what: roles made of identity patterns, and per-command rules. Layer: core.

Identities come from the transports, never from a bare nick: ``account:alice`` (IRC
account), ``mask:nick!user@host``, ``jid:bob@example.org``, ``console:alice``. A role
lists ``fnmatch`` patterns per transport name (``"*"`` for any transport)::

    [roles.ops]
    irc = ["account:alice", "mask:*!*@trusted.example"]
    console = ["console:*"]

A command needs a role through ``@command(..., requires="ops")`` or an
``[access.<command or plugin>]`` table (``requires``, ``channels``, ``private_only``;
a thread is in its channel: ``Message.channel``);
a command's own table wins over its plugin's, and a table's ``requires`` over the
decorator's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from univac.engine.catalog import CommandHandler
from univac.message import Message

ANY_TRANSPORT = "*"
Roles = Mapping[str, Mapping[str, tuple[str, ...]]]


@dataclass(frozen=True)
class AccessRule:
    """Limits on a command or a whole plugin, from an ``[access.<name>]`` table."""

    requires: str = ""
    """The role needed; empty: anyone."""
    channels: tuple[str, ...] = ()
    """Channels or rooms it may run in, threads in them included (private messages stay
    allowed); empty: any."""
    private_only: bool = False
    """Only in private messages."""


class Access:
    """Answers whether a message's sender may run a command."""

    def __init__(self, roles: Roles, rules: Mapping[str, AccessRule]) -> None:
        self._roles = {role: dict(by_transport) for role, by_transport in roles.items()}
        self._rules = dict(rules)
        self._effective: dict[str, AccessRule] = {}

    def has_role(self, role: str, message: Message) -> bool:
        """True when the sender's identity matches one of the role's patterns."""
        patterns = self._roles.get(role, {})
        candidates = (*patterns.get(message.transport, ()), *patterns.get(ANY_TRANSPORT, ()))
        identity = message.identity.casefold()
        return bool(identity) and any(fnmatchcase(identity, p.casefold()) for p in candidates)

    def rule(self, handler: CommandHandler) -> AccessRule:
        """The effective rule of a command handler (worked out once, then cached)."""
        rule = self._effective.get(handler.label)
        if rule is None:
            rule = self._effective[handler.label] = self._combine(handler)
        return rule

    def _combine(self, handler: CommandHandler) -> AccessRule:
        found = self._rules.get(handler.spec.name) or self._rules.get(handler.plugin)
        rule = found or AccessRule()
        if not rule.requires and handler.spec.requires:
            return AccessRule(handler.spec.requires, rule.channels, rule.private_only)
        return rule

    def refusal(
        self, handler: CommandHandler, message: Message, rule: AccessRule | None = None
    ) -> str:
        """Why the sender may not run this command here; empty when they may."""
        rule = rule or self.rule(handler)
        name = handler.spec.name
        if rule.private_only and not message.private:
            return f"{name} only works in a private message."
        if rule.channels and not message.private and message.channel not in rule.channels:
            return f"{name} only works in {', '.join(rule.channels)}."
        if rule.requires and not self.has_role(rule.requires, message):
            return f"You need the '{rule.requires}' role for {name}."
        return ""

    def problems(self, handlers: Iterable[CommandHandler], plugins: Iterable[str]) -> list[str]:
        """Rules naming unknown commands, plugins or roles."""
        names = {h.spec.name for h in handlers} | set(plugins)
        found = [f"access.{key}: no such command or plugin" for key in self._rules
                 if key not in names]
        wanted = {r.requires for r in self._rules.values()}
        wanted |= {h.spec.requires for h in handlers}
        found += [f"role '{role}' is used but not defined in [roles]"
                  for role in sorted(wanted - {""} - set(self._roles))]
        return found
