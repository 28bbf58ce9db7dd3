"""Property test of the reply queues' invariants under random traffic (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from univac.transports.irc.output import Drops, FairQueue

KEYS = ["alice", "bob", "carol", "flooder", "#chan"]

steps = st.lists(st.one_of(
    st.tuples(st.just("push"), st.sampled_from(KEYS), st.integers(1, 40), st.integers(5, 500)),
    st.tuples(st.just("pop"), st.integers(1, 30)),
    st.tuples(st.just("wait"), st.floats(0.0, 120.0)),
), max_size=60)  # fmt: skip


class Checked(FairQueue):
    """A FairQueue that checks, at every drop, that the victim was fairly chosen."""

    def _drop(self, key: str, count: int, reason: str, now: float) -> None:
        if reason == "bytes":
            assert self.sizes[key] == max(self.sizes.values())
        else:
            assert len(self.queues[key]) > self.max_lines
        super()._drop(key, count, reason, now)


@settings(max_examples=300, deadline=None)
@given(steps, st.sampled_from([0, 3, 50]), st.sampled_from([2048, 8192, 2 << 20]))
def test_fair_queue_invariants(ops, max_lines, max_bytes):
    """Nothing lost below the bounds, every drop counted, each key's lines in order,
    the bounds held, and a line always goes to the least lately served key."""
    drops = Drops("prop")
    queue = Checked(max_lines, max_bytes, drops, now=0.0)
    now, pushed, sent = 0.0, {k: 0 for k in KEYS}, {k: [] for k in KEYS}
    for op in ops:
        if op[0] == "push":
            _, key, count, size = op
            first = pushed[key]
            lines = [f"{key} {first + i:06d} ".ljust(size, "x").encode() for i in range(count)]
            pushed[key] += count
            queue.push(key, lines, now)
            assert queue.held <= max_bytes
            assert queue.held == sum(len(line) for q in queue.queues.values() for line in q)
            assert not max_lines or all(len(q) <= max_lines for q in queue.queues.values())
        elif op[0] == "pop":
            for _ in range(op[1]):
                waiting = {k: queue.usage.get(k, 0.0) for k, q in queue.queues.items() if q}
                line = queue.pop(now)
                if line is None:
                    assert not waiting
                    break
                key, number = line.split(b" ")[:2]
                assert waiting[key.decode()] == min(waiting.values())
                sent[key.decode()].append(int(number))
        else:
            now += op[1]
    dropped = sum(drops.totals.values())
    queued = sum(len(q) for q in queue.queues.values())
    assert sum(pushed.values()) == sum(len(s) for s in sent.values()) + dropped + queued
    for key in KEYS:
        assert sent[key] == sorted(sent[key])  # in order, none repeated
    if max_lines == 0 and max_bytes == 2 << 20:
        assert dropped == 0  # 60 steps of at most 40 x 500 bytes never reach 2 MB
