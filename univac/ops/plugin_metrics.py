"""Metrics a plugin defines itself: counters, gauges and histograms. Layer: core; any thread.

A plugin counts with ``ctx.count(name, **labels)``, sets a gauge with
``ctx.gauge(name, value, **labels)`` and times with ``ctx.observe(name, seconds,
**labels)``; the http plugin exports them on ``/metrics`` under the name given (a
counter ``runbook_steps_executed`` is served as ``runbook_steps_executed_total``).
A name belongs to the plugin that used it first and keeps its kind and label names
(Prometheus needs one label set per name); ``univac_`` names are the core's. Mistakes
raise ``ValueError`` at once, in the plugin's own test. Not on the per-message path of
the core: one plain lock, held for a dictionary update.
"""

from __future__ import annotations

import re
import threading

from univac.ops.metrics import BUCKETS, Family, Histogram, PluginMetricsReport

NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
Labels = tuple[tuple[str, str], ...]


class PluginMetrics:
    """The plugin metrics of one bot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._families: dict[str, Family] = {}
        self._values: dict[tuple[str, tuple[str, ...]], float] = {}
        self._histograms: dict[tuple[str, tuple[str, ...]], Histogram] = {}

    def count(self, plugin: str, name: str, amount: float, labels: dict[str, str]) -> None:
        if amount < 0:
            raise ValueError(f"counter {name}: cannot count down ({amount})")
        key = self._key(plugin, "counter", name, labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def gauge(self, plugin: str, name: str, value: float, labels: dict[str, str]) -> None:
        key = self._key(plugin, "gauge", name, labels)
        with self._lock:
            self._values[key] = float(value)

    def observe(self, plugin: str, name: str, seconds: float, labels: dict[str, str]) -> None:
        key = self._key(plugin, "histogram", name, labels)
        with self._lock:
            histogram = self._histograms.get(key)
            if histogram is None:
                histogram = self._histograms[key] = Histogram(BUCKETS)
            histogram.observe(seconds)

    def report(self) -> PluginMetricsReport:
        with self._lock:
            histograms = {key: h.snapshot() for key, h in self._histograms.items()}
            return PluginMetricsReport(dict(self._families), dict(self._values), histograms)

    def _key(self, plugin: str, kind: str, name: str,
             labels: dict[str, str]) -> tuple[str, tuple[str, ...]]:
        family = self._family(plugin, kind, name.removesuffix("_total"), tuple(sorted(labels)))
        return family, tuple(str(labels[label]) for label in self._families[family].labels)

    def _family(self, plugin: str, kind: str, name: str, labels: tuple[str, ...]) -> str:
        if not NAME.fullmatch(name) or name.startswith("univac_"):
            raise ValueError(f"metric name {name!r}: letters, digits and _, not univac_*")
        for label in labels:
            if not NAME.fullmatch(label) or label.startswith("__"):
                raise ValueError(f"metric {name}: label name {label!r} is not valid")
        with self._lock:
            known = self._families.setdefault(name, Family(plugin, kind, labels, ""))
        if known != Family(plugin, kind, labels, ""):
            raise ValueError(f"metric {name} is a {known.kind} of plugin {known.plugin} with "
                             f"labels {list(known.labels)}; not a {kind} with {list(labels)}")
        return name
