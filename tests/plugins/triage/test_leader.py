"""A standby that becomes the leader: the model's index follows the store.

With ``[ha]``, a standby loads every plugin's state at start and the core reads it
again when the standby becomes the leader (``HighAvailability`` reloads each
context's state as a term begins). The triage model keeps an index of numbers and
due cleanups in memory; built once at start, it would forget every issue the last
leader learnt. Here two bots share one state folder: one applies the deliveries, the
other reloads its state as a new leader does. The same with two real leaders on
PostgreSQL: tests/integration/test_triage_ha.py.
"""

from __future__ import annotations

from datetime import timedelta

from tests.plugins.triage.conftest import T0, fixture, seconds

DELAY = 45 * 60


def take_over(triage) -> None:
    """What the core does to a standby's plugins as its term begins."""
    for ctx in triage.harness.bot.contexts.values():
        ctx.state.reload()


def test_a_new_leader_indexes_what_the_last_one_stored(make_triage, github, tmp_path) -> None:
    standby = make_triage(state_dir=tmp_path / "state")
    leader = make_triage(state_dir=tmp_path / "state")
    for number in (7, 8):
        leader.deliver("issues", fixture("issues_opened.json",
                                         issue=fixture("issues_opened.json")["issue"]
                                         | {"number": number}))
    assert standby.rt.model.numbers() == [] and standby.rt.model.tracked() == 0
    take_over(standby)
    assert standby.rt.model.tracked() == 2
    assert standby.rt.model.numbers() == [7, 8]
    assert standby.rt.model.due(seconds(T0) + DELAY) == [7, 8]
    assert standby.harness.bot.status().plugins["triage"].startswith("2 open issue(s) tracked")

    leader.deliver("issues", fixture("issues_closed.json"))  # #7 closed
    take_over(standby)
    assert standby.rt.model.numbers() == [8]
    github.add(8, labels=["P1", "P2"])
    standby.tick("cleanup_due", T0 + timedelta(seconds=DELAY))
    assert github.issues[8].labels == ["P1"]  # the new leader cleans up what it learnt
