"""Small file helpers shared by every stage: atomic writes and streaming checksums."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from fcgraph.errors import FcgraphError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[BinaryIO], None], *, mode: int | None = None) -> None:
    """Call ``write(fh)`` on a temp file beside ``path``, fsync, then rename it over ``path``.

    The file gets ``mode`` (e.g. ``0o600``), applied before any byte is written so a secret is
    never readable by others, even briefly; by default the mode a plain ``open`` would give
    (0o666 less the umask). On any error the temp file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode if mode is not None else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write`."""
    atomic_write(path, lambda fh: fh.write(text.encode()), mode=mode)


def read_json_object(path: Path, missing: str) -> dict:
    """Parse a JSON object from ``path``; :class:`FcgraphError` with ``missing`` when absent."""
    path = Path(path)
    if not path.exists():
        raise FcgraphError(f"{path}: {missing}")
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise FcgraphError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise FcgraphError(f"{path}: expected a JSON object")
    return data


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in ``chunk``-byte pieces (bounded memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
