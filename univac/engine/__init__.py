"""The engine: what runs the bot. Layer: core (standard library only).

``bot`` wires every part from the configuration; ``supervisor`` keeps the transport
and poller threads alive; ``dispatch`` turns messages into jobs for the ``reactive``
pool (whose bound and queue ``admission`` keeps); ``poller`` runs ``@every`` handlers;
``handlers`` calls plugin code at its boundaries; ``catalog`` makes one handler type
per kind and indexes plugins; ``access``, ``approvals`` and ``ratelimit``
guard commands; ``router`` sends text out; ``state`` keeps plugin state; ``loader``
finds plugin and transport modules by name.
"""
