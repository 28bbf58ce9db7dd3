"""The watchdog's child dies with the watchdog. Layer: core; the watchdog's main thread.

A watchdog killed with SIGKILL cannot stop its child; a new watchdog would then start
a second bot beside the orphan, and both would answer. On Linux the child asks the
kernel, between ``fork`` and ``exec``, for SIGKILL when its parent dies
(``prctl(PR_SET_PDEATHSIG)``, kept across ``exec``). The command must be the bot, or
``exec`` it: a bot forked by a wrapper script is the wrapper's child, not covered.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` for ``subprocess.Popen``; None where the kernel cannot do this.

    It runs in the forked child before ``exec``, which is safe because the watchdog has
    one thread. If the watchdog died before the call, the child kills itself.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here, not at the top: only the watchdog needs it

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def in_child() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return in_child
