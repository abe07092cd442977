"""Resumable parts: one store and one invalidation rule for every stage that resumes.

A stage (``fc``, ``analyze``) saves each finished unit of work, a layer pair of a condition, as a
*part*: a JSON object with the unit's result and its ``key``, the SHA-256 of everything the
result was computed from (the stage's format, the settings that change results, the content
hashes of the input files it read; :func:`part_key`). The rule: **a part counts only while its
key equals the key its inputs give now.** A part is written atomically (a temporary file renamed
into place) and after any table it describes, so a part file that exists is complete; a kill
loses at most the unit in progress. In a run folder at a URL, each part is sent to the store as
soon as it is written (:func:`fcgraph.mirror.publish`), so a rerun on another machine resumes
from it too.

What a stage does with a part whose key differs is its policy: ``analyze`` recomputes it
(:func:`cached_part`); ``fc`` refuses and names the difference, since its edge tables would mix
results of other inputs (``--restart`` discards them).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fcgraph import faults
from fcgraph.errors import FcgraphError
from fcgraph.io import atomic_write_text, read_json_object
from fcgraph.mirror import publish

KEY = "key"


def part_key(*inputs: Any) -> str:
    """Hex SHA-256 of ``inputs`` (JSON-serialisable: format, settings, input hashes)."""
    text = json.dumps(inputs, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def write_part(path: Path, key: str, result: dict[str, Any]) -> None:
    """Save ``result`` with its ``key`` at ``path`` atomically (folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({**result, KEY: key}, indent=1) + "\n")
    publish(path)  # a run folder at a URL: the part is in the store before the next unit starts


def read_part(path: Path) -> tuple[dict[str, Any], str | None] | None:
    """``(result, key)`` of the part at ``path`` (key None for a part saved without one), or
    None when there is no part; :class:`FcgraphError` for a damaged file."""
    path = Path(path)
    if not path.exists():
        return None
    result = read_json_object(path, "missing")
    return result, result.pop(KEY, None)


def cached_part(path: Path, key: str, compute: Callable[[], dict[str, Any]], *,
                checkpoint: str | None = None) -> dict[str, Any]:
    """The result saved at ``path`` when its key is ``key``, else ``compute()`` saved as the part
    and read back (so a fresh and a resumed run return the same values). ``checkpoint``: the
    fault-injection point passed after the part is written."""
    try:
        found = read_part(path)
    except FcgraphError:  # a damaged part is recomputed
        found = None
    if found is not None and found[1] == key:
        return found[0]
    write_part(path, key, compute())
    if checkpoint:
        faults.checkpoint(checkpoint)
    found = read_part(path)
    assert found is not None
    return found[0]
