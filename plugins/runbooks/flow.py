"""The flow of a channel: the alert it answers and the step to offer next.

Kept in the plugin's state (``ctx.state``, key ``flow:<transport>:<target>``), so
``runbook next`` in an alert's channel (or an incident's, when the alert names it)
answers after a restart too. An alert sets the flow (its text, service, environment and
matching steps); each run in the channel sets the step its result leads to.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Flow:
    service: str = ""
    environment: str = ""
    alert: str = ""
    """One line about the alert that started the flow (empty after a run by hand)."""
    candidates: tuple[str, ...] = field(default_factory=tuple)
    """The steps matching the alert, best first."""
    next: str = ""
    """The step the last run's result leads to."""
    after: str = ""
    """``clear-cache: ok``: which run and result set ``next``."""


def key(where: str) -> str:
    return f"flow:{where}"


def read(state: Any, where: str) -> Flow | None:
    """The flow of ``where`` (``transport:target``), or None."""
    value = state.get(key(where))
    if not isinstance(value, dict):
        return None
    known = {name: value[name] for name in Flow.__dataclass_fields__ if name in value}
    known["candidates"] = tuple(known.get("candidates", ()))
    return Flow(**known)


def save(state: Any, where: str, flow: Flow) -> None:
    state[key(where)] = asdict(flow) | {"candidates": list(flow.candidates)}


def after_run(state: Any, where: str, service: str, environment: str, step: str,
              result: str, following: str) -> None:
    """Note the step a run's result leads to (keeping the alert that started the flow)."""
    with state:
        current = read(state, where) or Flow(service, environment)
        save(state, where, Flow(current.service or service, current.environment or environment,
                                current.alert, current.candidates, following,
                                f"{step}: {result}"))
