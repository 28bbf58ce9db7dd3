"""State store backends beyond the embedded SQLite one, installed as ``univac.stores``.

Each module is one backend, chosen by ``[store] backend = "<module>"`` and loaded by
name like a transport; it imports only public names of ``univac``, the standard
library and its one database library. The contract is in ``univac/engine/store.py``.
"""
