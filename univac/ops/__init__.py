"""Operations: what an operator sees and runs the bot with. Layer: core (stdlib only).

``sdnotify`` (systemd's notify protocol), ``watchdog`` (``univac watchdog``),
``audit`` (the audit trail), ``stats`` and ``metrics`` (counters and latency
histograms), ``reports`` (status snapshots for ``!status`` and ``/healthz``).
"""
