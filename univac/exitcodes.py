"""The exit codes of ``univac`` and ``univac watchdog``, in one place. Layer: core.

docs/operations.md shows the same table (a test keeps the two equal). Codes 1 and 2
are mistakes a restart cannot mend: the watchdog and the systemd unit do not restart
the bot after them.
"""

from __future__ import annotations

OK = 0
CONFIG = 1
USAGE = 2
CRASH_LOOP = 3
WATCHDOG_GAVE_UP = 4
STORE = 5
LEASE_LOST = 6

MEANINGS = {
    OK: "clean stop",
    CONFIG: "invalid configuration",
    USAGE: "bad command line",
    CRASH_LOOP: "the supervisor gave up after repeated thread crashes",
    WATCHDOG_GAVE_UP: "the watchdog gave up after repeated crashes of the bot",
    STORE: "the state store cannot be opened at start",
    LEASE_LOST: "a leader that lost its lease could not close its transports in time",
}
NOT_CRASHES = (CONFIG, USAGE)
"""A child exiting with these is not restarted: the watchdog exits with the same code."""
