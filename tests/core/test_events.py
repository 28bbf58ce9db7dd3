"""Plugin events: ``ctx.emit(topic, **fields)`` and ``@on(topic)`` listeners."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.core.sample_plugins import emitting, listening
from univac import on
from univac.engine.events import MAX_DEPTH

EMITTING = str(Path(emitting.__file__))
LISTENING = str(Path(listening.__file__))


def test_a_listener_gets_the_fields_with_topic_and_source(univac_bot) -> None:
    bot = univac_bot(EMITTING, LISTENING)
    # the listener ran on the emitter's thread, before the emitter answered
    assert bot.ask("!ran restart", target="#ops") == ["timeline: step restart ran",
                                                      "1 listener(s)"]
    (seen,) = bot.bot.contexts["listening"].state["seen"]
    assert seen == {"step": "restart", "ok": True, "tags": ["a", "b"],
                    "topic": "sample.step_ran", "source": "emitting"}


def test_nobody_listening_is_zero_and_no_error(univac_bot) -> None:
    bot = univac_bot(EMITTING)
    assert bot.ask("!ran restart") == ["0 listener(s)"]


def test_a_failing_listener_never_reaches_the_emitter(univac_bot, caplog) -> None:
    bot = univac_bot(EMITTING, LISTENING)
    with caplog.at_level(logging.WARNING):
        assert bot.ask("!ran refused") == ["0 listener(s)"]
        assert bot.ask("!ran broken") == ["0 listener(s)"]
    assert "listener listening.note refused event sample.step_ran: no such incident" \
        in caplog.text
    assert "listener listening.note failed on event sample.step_ran" in caplog.text
    assert bot.ask("!ran restart") == ["1 listener(s)"]


def test_a_loop_between_listeners_stops_at_the_depth_limit(univac_bot, caplog) -> None:
    bot = univac_bot(EMITTING)
    with caplog.at_level(logging.ERROR):
        assert bot.ask("!loop") == ["1 listener(s)"]
    assert bot.bot.contexts["emitting"].state["loops"] == MAX_DEPTH
    assert "event sample.loop from emitting dropped: events nested" in caplog.text


@pytest.mark.parametrize("topic", ["Incidents.x", "incidents", "incidents.", "a b.c", ""])
def test_a_topic_is_dotted_lower_case_words(topic) -> None:
    with pytest.raises(ValueError, match=r"must look like plugin\.what"):
        on(topic)
