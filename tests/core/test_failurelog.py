"""FailureLog: the note a transport adds to its "connected" line."""

from __future__ import annotations

import logging

from univac import FailureLog


def test_the_connected_note_counts_the_failed_attempts_and_starts_again() -> None:
    failures = FailureLog(logging.getLogger("test.failurelog"), "chat")
    assert failures.connected_note() == ""
    failures.ended("connection refused", 1.0, dropped=False)
    assert failures.connected_note() == " after 1 failed attempt"
    for _ in range(3):
        failures.ended("connection refused", 1.0, dropped=False)
    failures.ended("reset by peer", 1.0, dropped=True)  # a lost link is not an attempt
    assert failures.connected_note() == " after 3 failed attempts"
    assert failures.connected_note() == ""
