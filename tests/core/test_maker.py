"""Transports made by the bot: ``create`` with or without a ``TransportContext``, the
transport's state kept in the store across a restart, secrets learnt at run time
masked in the logs and in chat."""

from __future__ import annotations

import io
import logging
import threading
from pathlib import Path

import pytest

from tests.core.sample_transports import keeper
from tests.waiting import wait_for
from univac.config import Config, from_mapping
from univac.engine.bot import Bot
from univac.engine.maker import takes_context
from univac.engine.state import State
from univac.engine.store import StoreEntry, open_store
from univac.errors import ConfigError
from univac.logs import RedactingFormatter
from univac.settings import Source

KEEPER = {"type": "tests.core.sample_transports.keeper", "name": "k"}
PLAIN = {"type": "tests.core.sample_transports.plain", "name": "plain"}  # create(name, s)


def config(folder: Path, *transports: dict) -> Config:
    data = {"bot": {"plugins": ["echo"], "state_dir": str(folder)},
            "transports": list(transports)}
    return from_mapping(data, Source("<test>", folder))


def run_once(bot: Bot, name: str = "k") -> None:
    """Run the transport ``name`` until it has read and written its state, then stop it."""
    found = len(keeper.FOUND)
    thread = threading.Thread(target=bot.transports[name].run, args=(lambda m: None,))
    thread.start()
    wait_for(lambda: bot.transports[name].status().state == "connected", 10, "the run")
    bot.transports[name].stop()
    thread.join(10)
    assert len(keeper.FOUND) > found


def test_a_third_positional_parameter_of_create_gets_the_context() -> None:
    def two(name, settings): ...
    def three(name, settings, context): ...
    def optional(name, settings, context=None): ...
    def rest(name, settings, *more): ...
    def keyword_only(name, settings, *, context=None): ...

    found = [takes_context(f) for f in (two, three, optional, rest, keyword_only)]
    assert found == [False, True, True, True, False]


def test_a_transport_keeps_its_state_in_the_store_across_a_restart(tmp_path: Path) -> None:
    keeper.FOUND.clear()
    for _ in range(2):
        bot = Bot(config(tmp_path, KEEPER, PLAIN))
        try:
            assert set(bot.transports) == {"k", "plain"}
            run_once(bot)
        finally:
            bot.shutdown()
    assert keeper.FOUND == [("keeper", 0), ("keeper", 1)]
    store = open_store(StoreEntry(), tmp_path)
    try:
        assert store.load("transport:k") == {"runs": "2"}
        assert State(store, "k").keys() == []  # not a plugin's namespace
    finally:
        store.close()


def test_a_transport_that_cannot_be_made_is_a_configuration_error(tmp_path: Path) -> None:
    broken = {**KEEPER, "label": "broken"}
    with pytest.raises(ConfigError) as raised:
        Bot(config(tmp_path, broken))
    assert [(i.key, i.reason) for i in raised.value.issues] == [
        ("transports.k", "cannot make a broken keeper")]


def test_a_secret_learnt_at_run_time_is_masked_in_logs_and_chat(tmp_path: Path) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter())
    logging.getLogger().addHandler(handler)
    bot = Bot(config(tmp_path, {**KEEPER, "learnt": "syt_learnt_token"}))
    try:
        bot.router.send("k", "#x", "before: syt_learnt_token")
        run_once(bot)
        bot.router.send("k", "#x", "after: syt_learnt_token")
        logging.getLogger("univac.test").warning("the token is syt_learnt_token")
    finally:
        logging.getLogger().removeHandler(handler)
        bot.shutdown()
    assert bot.transports["k"].sent == [("#x", "before: syt_learnt_token"),
                                        ("#x", "after: ***")]
    assert "the token is ***" in stream.getvalue()
    assert "syt_learnt_token" not in stream.getvalue()
