"""Small file helpers shared by every stage: atomic writes, preallocation, streaming checksums,
and one-line errors for a full disk or a folder the user may not write."""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from fcgraph import faults
from fcgraph.errors import FcgraphError

#: Temp files of :func:`atomic_write`: ``.<name>.<pid>.<random>.tmp`` beside the target.
TEMP_FILE = re.compile(r"^\..+\.(\d+)\.[a-z0-9_]+\.tmp$")
_FULL = (errno.ENOSPC, errno.EDQUOT)
_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[BinaryIO], None], *, mode: int | None = None) -> None:
    """Call ``write(fh)`` on a temp file beside ``path``, fsync, then rename it over ``path``.

    The file gets ``mode`` (e.g. ``0o600``), applied before any byte is written so a secret is
    never readable by others, even briefly; by default the mode a plain ``open`` would give
    (0o666 less the umask). On any error the temp file is removed and ``path`` is untouched; a
    killed process leaves its temp file, which :func:`remove_stale_temps` removes later.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode if mode is not None else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        faults.checkpoint(f"write/{path.name}")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temp path beside ``path`` for a writer that wants a file name (HDF5, NIX); on
    success it is renamed over ``path``, on any error removed (``path`` untouched)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # the writer creates the file itself (some refuse an existing one)
    try:
        yield tmp
        if not tmp.exists():
            raise FcgraphError(f"{path}: the writer wrote nothing")
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        faults.checkpoint(f"write/{path.name}")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write`."""
    atomic_write(path, lambda fh: fh.write(text.encode()), mode=mode)


def remove_stale_temps(folder: Path) -> None:
    """Remove the temp files that killed :func:`atomic_write` calls left under ``folder`` (those
    of a process that no longer runs); files it may not remove are left."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for path in folder.rglob(".*.tmp"):
        match = TEMP_FILE.match(path.name)
        if match and not pid_alive(int(match.group(1))):
            with suppress(OSError):
                path.unlink()


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` runs (another user's counts; a zombie does not)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1][:1] != "Z"
    except OSError:  # no /proc
        return True


def preallocate(path: Path, size: int, *, keep: bool = False) -> None:
    """Make ``path`` a file of ``size`` bytes whose disk blocks are reserved now (zeros unless
    ``keep`` and it already has that size, then its bytes are kept), so that a full disk fails
    here with ENOSPC rather than later, as SIGBUS, in a memory-mapped write."""
    path = Path(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if not keep or os.fstat(fd).st_size != size:
            os.ftruncate(fd, 0)
        if size:
            _fallocate(fd, size)
    finally:
        os.close(fd)


def _fallocate(fd: int, size: int) -> None:
    try:
        os.posix_fallocate(fd, 0, size)
    except (AttributeError, OSError) as exc:  # no posix_fallocate (macOS), or not on this file system
        if isinstance(exc, OSError) and exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP):
            raise
        os.ftruncate(fd, size)


@contextmanager
def writing_into(folder: Path) -> Iterator[None]:
    """Turn a full disk, or a file or folder this user may not write, met while a stage writes
    into ``folder``, into one :class:`FcgraphError` line naming the folder."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _FULL:
            raise FcgraphError(f"{folder}: no space left on device; free some space, then rerun the "
                               "same command to resume (finished parts are kept)") from None
        if exc.errno in _DENIED:
            name = Path(exc.filename) if exc.filename else None
            if name is not None and TEMP_FILE.match(name.name):  # name the file, not its temp
                name = name.parent
            where = f" ({name})" if name is not None and name != Path(folder) else ""
            hint = "" if exc.errno == errno.EROFS else "run as a user who may write it, or "
            raise FcgraphError(f"{folder}: {os.strerror(exc.errno).lower()}{where}; {hint}copy it "
                               "somewhere writable") from None
        raise


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


def plain(value: Any) -> Any:
    """``value`` ready for strict JSON and for Cypher parameters: NumPy scalars as Python
    numbers, dicts, lists and tuples element by element (tuples as lists), NaN and infinities
    as None; NumPy arrays as nested lists; anything else unchanged."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
