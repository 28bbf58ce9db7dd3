"""The plugin's metrics: issues tracked, runs, label changes, API calls, deliveries.

Layer: plugin; any thread. Each count, gauge and duration goes to the core's plugin
metrics (``ctx.count``, ``ctx.gauge``, ``ctx.observe``), which the http plugin serves
on ``/metrics`` (a counter ``triage_api_calls`` as ``triage_api_calls_total``); the
debug page and ``!triage`` read them back from the core (``ctx.bot.metrics()``), so
nothing is counted twice. Each name is declared below with its label names: a
misspelt name or label fails at once, in the plugin's own tests.
"""

from __future__ import annotations

from typing import Any

from univac import Context

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
HISTOGRAMS = {
    "triage_api_call_seconds": ("method",),
}


class Counts:
    """The plugin's metrics, through the context ``setup`` got."""

    def __init__(self, ctx: Context[Any]) -> None:
        self._ctx = ctx

    def count(self, name: str, amount: float = 1, **labels: str) -> None:
        _check(COUNTERS, name, labels)
        self._ctx.count(name, amount, **labels)

    def gauge(self, name: str, value: float, **labels: str) -> None:
        _check(GAUGES, name, labels)
        self._ctx.gauge(name, value, **labels)

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        _check(HISTOGRAMS, name, labels)
        self._ctx.observe(name, seconds, **labels)

    def get(self, name: str, **labels: str) -> float:
        """A counter's or gauge's value now (a histogram's count); 0 before the first."""
        found = self._ctx.bot.metrics().plugins
        key = (name, tuple(str(labels[label]) for label in sorted(labels)))
        if found is None:
            return 0.0
        if name in HISTOGRAMS:
            histogram = found.histograms.get(key)
            return float(histogram.count) if histogram is not None else 0.0
        return found.values.get(key, 0.0)

    def lines(self) -> list[str]:
        """``name{label="value"} number``, sorted: the debug page's counts."""
        found = self._ctx.bot.metrics().plugins
        if found is None:
            return []
        mine = {name: family.labels for name, family in found.families.items()
                if family.plugin == self._ctx.plugin}
        lines = [f"{name}{_labels(mine[name], values)} {value:g}"
                 for (name, values), value in found.values.items() if name in mine]
        lines += [f"{name}{_labels(mine[name], values)} {h.count} in {h.total:.3f} s"
                  for (name, values), h in found.histograms.items() if name in mine]
        return sorted(lines)


def _check(kinds: dict[str, tuple[str, ...]], name: str, labels: dict[str, str]) -> None:
    if name not in kinds or set(labels) != set(kinds[name]):
        raise ValueError(f"metric {name} with labels {sorted(labels)} is not declared")


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    pairs = [f'{k}="{v}"' for k, v in zip(names, values, strict=True)]
    return "{" + ",".join(pairs) + "}" if pairs else ""
