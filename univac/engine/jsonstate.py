"""The former state files, ``<plugin>.json``: imported into the store. Layer: core; main
thread, at start.

Before the state store, each plugin's state was one JSON file in the state folder,
rewritten whole (temporary file ``.<plugin>.json.XXXXXXXX``, fsync, rename) on every
change. At start, each enabled plugin's file is imported into the store in one
transaction (its keys overwrite the store's) and then renamed
``<plugin>.json.imported-<time>``, beside the store: it is never deleted, and never read
again. A file whose content is not a JSON object is kept aside as
``<plugin>.json.corrupt-<time>`` and nothing is imported; a file that cannot be read at
all (permissions) raises PluginError naming it, and the plugin is disabled rather than
started without its state. Temporary files left by a write that was killed are partial copies,
never the truth: they are removed at start.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path

from univac.engine.store import Store
from univac.errors import PluginError

log = logging.getLogger("univac.state")
TEMPORARY = re.compile(r"\..+\.json\.[a-z0-9_]{8}")
"""What ``tempfile.mkstemp(prefix=".<plugin>.json.")`` named the former temporary files."""


def import_file(store: Store, namespace: str, folder: Path, epoch: int | None) -> int:
    """Import ``<namespace>.json`` of ``folder`` if there is one; the number of keys."""
    path = folder / f"{namespace}.json"
    data = _read(path)
    if data is None:
        return 0
    durable = store.commit(namespace, {key: json.dumps(value) for key, value in data.items()},
                           epoch)
    if durable is not None:
        durable()
    kept = _rename(path, "imported")
    log.info("state of %s: imported %d key(s) from %s into the store; the file is kept as %s",
             namespace, len(data), path, kept.name)
    return len(data)


def clean_temporaries(folder: Path) -> list[Path]:
    """Remove the temporary files that killed writes of the former files left behind."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if TEMPORARY.fullmatch(p.name) and p.is_file()]
    for path in found:
        path.unlink(missing_ok=True)
        log.info("removed %s, left by an interrupted write of a former state file", path)
    return found


def _read(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data
        reason = "the top level is not an object"
    except FileNotFoundError:
        return None
    except ValueError as error:
        reason = str(error)
    except OSError as error:  # permissions, a folder: the file is left for the operator
        raise PluginError(f"cannot read its former state file {path} ({type(error).__name__}:"
                          f" {error.strerror or error}); the plugin stays disabled until the"
                          " file can be read") from None
    aside = _rename(path, "corrupt")
    log.error("state file %s is unreadable (%s); kept as %s, nothing imported",
              path, reason, aside.name)
    return None


def _rename(path: Path, why: str) -> Path:
    """Rename ``path`` to ``<name>.<why>-<time>`` (never over another file), durably."""
    stamp = int(time.time())
    target = path.with_name(f"{path.name}.{why}-{stamp}")
    number = 0
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}.{why}-{stamp}.{number}")
    os.rename(path, target)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return target
