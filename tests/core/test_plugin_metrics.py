"""Plugin metrics: ``ctx.count``, ``ctx.gauge`` and ``ctx.observe``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.sample_plugins import counting
from univac.ops.plugin_metrics import PluginMetrics

COUNTING = str(Path(counting.__file__))


def test_counters_gauges_and_histograms_land_in_the_metrics_report(univac_bot) -> None:
    bot = univac_bot(COUNTING)
    assert bot.ask("!step restart ok") == ["counted"]
    assert bot.ask("!step restart ok 0.7") == ["counted"]
    assert bot.ask("!step flush failed") == ["counted"]
    own = bot.bot.metrics().plugins
    assert own.families["runbook_steps_executed"].labels == ("action", "result", "service")
    assert own.values[("runbook_steps_executed", ("restart", "ok", "web"))] == 2
    assert own.values[("runbook_steps_executed", ("flush", "failed", "web"))] == 1
    assert own.values[("quota_left", ())] == 42
    timed = own.histograms[("runbook_step_duration_seconds", ("restart",))]
    assert timed.count == 2 and timed.total == pytest.approx(0.9)


def test_a_name_keeps_its_labels_and_a_mistake_is_the_plugins_error(univac_bot) -> None:
    bot = univac_bot(COUNTING)
    assert bot.ask("!step restart ok") == ["counted"]
    assert bot.ask("!bad") == [
        "Sorry, something went wrong on my side; the operator can find the details in the log."]


def test_names_are_checked_and_owned_by_one_plugin() -> None:
    metrics = PluginMetrics()
    metrics.count("a", "jobs_total", 1, {})
    with pytest.raises(ValueError, match="counter of plugin a"):
        metrics.count("b", "jobs", 1, {})
    with pytest.raises(ValueError, match="not univac_"):
        metrics.gauge("a", "univac_commands", 1, {})
    with pytest.raises(ValueError, match="cannot count down"):
        metrics.count("a", "jobs", -1, {})
    with pytest.raises(ValueError, match="label name"):
        metrics.gauge("a", "level", 1, {"__x": "y"})
    assert metrics.report().values == {("jobs", ()): 1.0}
