"""A fixed-bucket latency histogram and the metrics snapshot. Layer: core; any thread.

The core measures, a plugin exports (``univac.plugins.http`` serves Prometheus text).
``Histogram`` holds no lock of its own: ``Stats`` updates it under its one lock, so a
handled command costs one lock for its counter and its latency together.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

BUCKETS: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)
"""Upper bounds in seconds (``le``); a last, unbounded bucket catches the rest."""


@dataclass(frozen=True)
class HistogramSnapshot:
    """Cumulative counts per upper bound (Prometheus style), with the sum and count."""

    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]
    """``cumulative[i]``: observations <= ``bounds[i]``."""
    total: float
    count: int


class Histogram:
    """Counts observations into fixed buckets; not thread-safe by itself."""

    __slots__ = ("_bounds", "_counts", "_sum")

    def __init__(self, bounds: tuple[float, ...] = BUCKETS) -> None:
        if list(bounds) != sorted(set(bounds)) or not bounds:
            raise ValueError("bounds must be increasing and not empty")
        self._bounds = bounds
        self._counts = [0] * (len(bounds) + 1)
        self._sum = 0.0

    def observe(self, value: float) -> None:
        self._counts[bisect_left(self._bounds, value)] += 1
        self._sum += value

    def snapshot(self) -> HistogramSnapshot:
        cumulative, running = [], 0
        for count in self._counts[:-1]:
            running += count
            cumulative.append(running)
        return HistogramSnapshot(self._bounds, tuple(cumulative), self._sum, sum(self._counts))


@dataclass(frozen=True)
class Family:
    """One plugin metric: its owner, kind, label names and help text."""

    plugin: str
    kind: str
    """``counter``, ``gauge`` or ``histogram``."""
    labels: tuple[str, ...]
    doc: str


@dataclass(frozen=True)
class PluginMetricsReport:
    """Every plugin metric: families by name, and values by (name, label values)."""

    families: dict[str, Family]
    values: dict[tuple[str, tuple[str, ...]], float]
    """Counters and gauges."""
    histograms: dict[tuple[str, tuple[str, ...]], HistogramSnapshot]


@dataclass(frozen=True)
class MetricsReport:
    """What the bot has measured since it started (``ctx.bot.metrics()``)."""

    counters: dict[str, int]
    """``in:<transport>``, ``out:<transport>``, ``commands``, ``shed``, ``rate_limited``,
    ``handler_errors``."""
    commands: dict[tuple[str, str, str], int]
    """(plugin, command, result) -> count; result is ``done``, ``usage``, ``refused``
    (UserError), ``error`` (exception) or ``denied`` (access rules)."""
    latency: dict[tuple[str, str], HistogramSnapshot]
    """(plugin, kind) -> handler run time; kind is ``command``, ``match`` or ``webhook``."""
    plugins: PluginMetricsReport | None = None
    """The plugins' own metrics (``ctx.count``, ``ctx.gauge``, ``ctx.observe``)."""
