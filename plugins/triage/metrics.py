"""The plugin's own counts: issues tracked, runs, label changes, API calls, deliveries.

Layer: plugin; any thread (one lock around a dictionary update). The counts are kept
here and shown on ``/hooks/triage/debug`` and by ``!triage``; when the running core
lets a plugin publish metrics (``ctx.count`` and ``ctx.gauge``, exported by the http
plugin on ``/metrics``), every count and gauge is handed to it as well, under the
names below (a counter ``triage_api_calls`` is served as ``triage_api_calls_total``).
"""

from __future__ import annotations

import threading
from typing import Any

COUNTERS = {
    "triage_cleanup_runs": (),
    "triage_tidy_runs": (),
    "triage_scanned_issues": (),
    "triage_label_changes": ("rule", "change"),
    "triage_actions": ("rule", "kind"),
    "triage_api_calls": ("method",),
    "triage_deliveries": ("outcome",),
}
GAUGES = {
    "triage_issues_tracked": (),
    "triage_rate_limit_remaining": (),
    "triage_rate_limit_limit": (),
    "triage_pending_cleanups": (),
}


class Counts:
    """Counters and gauges, each with a fixed set of label names."""

    def __init__(self, ctx: Any = None) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[str, tuple[str, ...]], float] = {}
        self._count = getattr(ctx, "count", None)
        self._gauge = getattr(ctx, "gauge", None)

    @property
    def published(self) -> bool:
        """Whether the core takes plugin metrics (``ctx.count``) in this bot."""
        return self._count is not None

    def count(self, name: str, amount: float = 1, **labels: str) -> None:
        key = _key(COUNTERS, name, labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount
        if self._count is not None:
            self._count(name, amount, **labels)

    def gauge(self, name: str, value: float, **labels: str) -> None:
        key = _key(GAUGES, name, labels)
        with self._lock:
            self._values[key] = float(value)
        if self._gauge is not None:
            self._gauge(name, value, **labels)

    def get(self, name: str, **labels: str) -> float:
        with self._lock:
            return self._values.get((name, tuple(labels[k] for k in _names(name))), 0.0)

    def lines(self) -> list[str]:
        """``name{label="value"} number``, sorted: the debug page's metrics section."""
        with self._lock:
            items = sorted(self._values.items())
        return [f"{name}{_labels(name, values)} {value:g}" for (name, values), value in items]


def _names(name: str) -> tuple[str, ...]:
    return COUNTERS.get(name, GAUGES.get(name, ()))


def _key(kinds: dict[str, tuple[str, ...]], name: str,
         labels: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    if name not in kinds or set(labels) != set(kinds[name]):
        raise ValueError(f"metric {name} with labels {sorted(labels)} is not declared")
    return name, tuple(str(labels[k]) for k in kinds[name])


def _labels(name: str, values: tuple[str, ...]) -> str:
    pairs = [f'{k}="{v}"' for k, v in zip(_names(name), values, strict=True)]
    return "{" + ",".join(pairs) + "}" if pairs else ""
