"""Run folders at a URL (``s3://bucket/runs/demo``, any fsspec store): a local mirror, synced.

A stage reads and writes its run folder as files: spikes are memory-mapped, tables and parts are
published by an atomic rename. An object store offers neither, so a run folder at a URL is worked
on through a *mirror*, a local copy under :func:`fcgraph.paths.mirror_dir` (one folder per URL),
and synced with the store around the work (:func:`local_run_folder`):

1. **push** what an earlier run on this machine left unsent (a run killed before its end);
2. **pull** what the store holds and the mirror lacks or holds in another version, except the
   recorded spikes (``spikes/``), which are fetched when first opened
   (:func:`ensure_local`, called by the recording reader) so that a unit reads only its layers;
   files the store no longer has are removed from the mirror (unless changed here);
3. the stage runs on the mirror, as on any local folder;
4. **push** every file written, changed or removed here, oldest first: a part's table before its
   JSON, so a part that exists in the store is complete (a single upload appears whole or not at
   all).

On a Dask cluster (:func:`fcgraph.execution.run_units`) the client pushes before sending units;
each worker runs its unit on its own mirror of the same URL (pulled as above, but never the
resumable parts of other units, ``.parts/``), pushes what the unit wrote, and the client pulls
each finished unit's files. The store is the shared folder: workers need the URL and its
credentials, not the client's paths.

What the mirror keeps of the sync: one small JSON per file under ``<mirror>/sync/`` (the file's
size and mtime when last synced, and the store's version of it: ETag, or mtime), written
atomically, so several processes of one machine (the client and local workers) may share a
mirror. A file is *changed here* when its size or mtime differs from its record.

Credentials and endpoints are fsspec's: for S3 the usual ``AWS_*`` variables (``AWS_ENDPOINT_URL``
for an S3-compatible store) or ``FSSPEC_S3_*``; the ``s3`` extra installs s3fs.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.io import TEMP_FILE, atomic_write, atomic_write_text
from fcgraph.paths import mirror_dir
from fcgraph.run_folder import is_url

#: Fetched when first opened rather than pulled: the recorded spikes.
LAZY = ("spikes/",)
#: Never pulled on a worker: other units' resumable parts (a worker writes its own).
PARTS_FOLDER = ".parts"
_CHUNK = 1 << 22
#: What the CLI suggests when fsspec or the store's package is missing.
INSTALL_HINT = "pip install 'fcgraph[s3]' (S3), or the fsspec package of your store (gcsfs, adlfs)"

#: A stage's progress callback (as :data:`fcgraph.execution.ProgressFn`).
Progress = Callable[[str, int, int], None]


class StoreError(FcgraphError):
    """The store at a run folder's URL cannot be reached, read or written."""


def _temp_or_probe(name: str) -> bool:
    return bool(TEMP_FILE.match(name)) or name.startswith(".probe.")


def _version(info: dict[str, Any]) -> str:
    """The store's version of a file: its ETag, else its modification time, with its size."""
    for key in ("ETag", "etag", "mtime", "LastModified", "last_modified", "created"):
        if info.get(key) is not None:
            return f"{info.get('size')}:{info[key]}"
    return str(info.get("size"))


def _stat(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return [st.st_size, st.st_mtime_ns]


class Mirror:
    """The local mirror of the run folder at ``url`` (module doc).

    Attributes
    ----------
    url : str
        The run folder's URL, without a trailing ``/``.
    files : Path
        The mirror's copy of the run folder: what a stage reads and writes.
    """

    def __init__(self, url: str, root: Path | None = None) -> None:
        self.url = str(url).rstrip("/")
        self._fs, self._base = open_store(self.url)  # a bad URL: one line, nothing created
        home = root if root is not None else mirror_dir()
        tail = re.sub(r"[^A-Za-z0-9_.\-]", "_", self.url.rsplit("/", 1)[-1])[:40]
        folder = Path(home) / f"{tail}-{hashlib.sha256(self.url.encode()).hexdigest()[:16]}"
        self.files = folder / "files"
        self._sync = folder / "sync"
        self._lock = threading.Lock()
        self._listing: dict[str, dict[str, Any]] = {}
        folder.mkdir(parents=True, exist_ok=True)
        self.files.mkdir(exist_ok=True)
        if not (folder / "url").exists():
            atomic_write_text(folder / "url", self.url + "\n")

    # -- the store -------------------------------------------------------------------------------

    @property
    def fs(self) -> Any:
        """The fsspec filesystem of the URL."""
        return self._fs

    def remote(self, rel: str) -> str:
        """The store's path of ``rel`` (relative to the run folder, ``/``-separated)."""
        return f"{self._base}/{rel}"

    def relative(self, path: Path) -> str:
        """``path`` (in the mirror) relative to the run folder."""
        return Path(path).resolve().relative_to(self.files.resolve()).as_posix()

    def list_remote(self) -> dict[str, dict[str, Any]]:
        """Every file under the URL: ``{relative path: fsspec info}`` (fresh, not cached)."""
        fs = self.fs
        with _store_errors(self.url, "list"):
            try:
                found = fs.find(self._base, detail=True, withdirs=False)
            except FileNotFoundError:
                found = {}
        prefix = self._base + "/"
        listing = {}
        for key, info in found.items():
            key = key.rstrip("/")
            if key.startswith(prefix) and info.get("type", "file") == "file":
                listing[key[len(prefix):]] = info
        self._listing = listing
        return listing

    # -- sync records ----------------------------------------------------------------------------

    def _record_path(self, rel: str) -> Path:
        return self._sync / f"{rel}.json"

    def _record(self, rel: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._record_path(rel).read_text())
        except (FileNotFoundError, ValueError):
            return None

    def _write_record(self, rel: str, local: list[int], version: str) -> None:
        atomic_write_text(self._record_path(rel), json.dumps({"local": local, "version": version}))

    def _forget(self, rel: str) -> None:
        self._record_path(rel).unlink(missing_ok=True)

    def _local_files(self) -> dict[str, list[int]]:
        out = {}
        for path in self.files.rglob("*"):
            if path.is_file() and not _temp_or_probe(path.name):
                st = _stat(path)
                if st is not None:
                    out[path.relative_to(self.files).as_posix()] = st
        return out

    def _recorded(self) -> list[str]:
        return [p.relative_to(self._sync).as_posix()[:-len(".json")]
                for p in self._sync.rglob("*.json") if not _temp_or_probe(p.name)] \
            if self._sync.is_dir() else []

    # -- pull, fetch, push -----------------------------------------------------------------------

    def pull(self, *, skip: Sequence[str] = LAZY, skip_parts: bool = False,
             progress: Progress | None = None) -> int:
        """Bring the mirror up to the store (module doc); returns the files downloaded.

        Parameters
        ----------
        skip : sequence of str
            Prefixes of relative paths left to :meth:`ensure` (default: the spikes).
        skip_parts : bool
            Also leave out every file under a ``.parts`` folder (a worker's pull).
        progress : callable, optional
            ``progress(task, files done, files)`` as files arrive.
        """
        with self._lock:
            listing = self.list_remote()
            todo = []
            for rel, info in listing.items():
                if rel.startswith(tuple(skip)) or (skip_parts and PARTS_FOLDER in rel.split("/")[:-1]) \
                        or _temp_or_probe(rel.rsplit("/", 1)[-1]):
                    continue
                if not self._current(rel, info):
                    todo.append(rel)
                elif self._record(rel) is None:  # the same file, found here: recorded as synced
                    self._write_record(rel, _stat(self.files / rel) or [0, 0], _version(info))
            for rel in self._recorded():  # gone from the store, unchanged here: gone here too
                if rel not in listing:
                    record = self._record(rel)
                    local = _stat(self.files / rel)
                    if record is not None and (local is None or local == record["local"]):
                        (self.files / rel).unlink(missing_ok=True)
                        self._forget(rel)
            task = f"fetch {self.url}"
            for i, rel in enumerate(sorted(todo)):
                if progress is not None:
                    progress(task, i, len(todo))
                self._download(rel, listing[rel])
            if progress is not None and todo:
                progress(task, len(todo), len(todo))
            return len(todo)

    def _current(self, rel: str, info: dict[str, Any]) -> bool:
        """The mirror holds the store's version of ``rel``, or a version changed here (to push)."""
        local = _stat(self.files / rel)
        if local is None:
            return False
        record = self._record(rel)
        if record is None:
            return local[0] == info.get("size")  # same size: taken as the same file, recorded
        return record["version"] == _version(info) or local != record["local"]

    def _download(self, rel: str, info: dict[str, Any]) -> None:
        """Fetch ``rel``; a file listed but gone (or not yet readable: an upload that other
        process has not finished) is left for the next pull."""
        target = self.files / rel
        with _store_errors(f"{self.url}/{rel}", "read"):
            try:
                with self.fs.open(self.remote(rel), "rb") as src:
                    atomic_write(target, lambda fh: shutil.copyfileobj(src, fh, _CHUNK))
            except FileNotFoundError:
                return
        self._write_record(rel, _stat(target) or [0, 0], _version(info))

    def ensure(self, path: Path) -> None:
        """Fetch ``path`` (a file of the mirror) now if the mirror lacks the store's version."""
        rel = self.relative(path)
        with self._lock:
            info = self._listing.get(rel)
            if info is None:
                with _store_errors(f"{self.url}/{rel}", "read"):
                    try:
                        info = self.fs.info(self.remote(rel))
                    except FileNotFoundError:
                        return  # the reader says it is missing
            if not self._current(rel, info):
                self._download(rel, info)
            elif self._record(rel) is None:
                self._write_record(rel, _stat(self.files / rel) or [0, 0], _version(info))

    def push(self) -> int:
        """Send every file written, changed or removed in the mirror to the store, oldest first
        (module doc); returns the files sent or removed."""
        with self._lock:
            local = self._local_files()
            changed = [rel for rel, st in local.items()
                       if (rec := self._record(rel)) is None or rec["local"] != st]
            removed = [rel for rel in self._recorded() if rel not in local]
            if not changed and not removed:
                return 0
            fs = self.fs
            for rel in sorted(changed, key=lambda r: local[r][1]):
                source = self.files / rel
                if _stat(source) is None:  # removed meanwhile (another process's temp state)
                    continue
                with _store_errors(f"{self.url}/{rel}", "write"):
                    target = self.remote(rel)
                    fs.makedirs(posixpath.dirname(target), exist_ok=True)  # folders, where a store has them
                    fs.put_file(str(source), target)
            for rel in removed:
                with _store_errors(f"{self.url}/{rel}", "remove"), suppress(FileNotFoundError):
                    fs.rm_file(self.remote(rel))
                self._forget(rel)
            for rel in changed:  # the store's version of each file sent (not a whole listing)
                with _store_errors(f"{self.url}/{rel}", "read"), suppress(FileNotFoundError):
                    self._write_record(rel, local[rel], _version(fs.info(self.remote(rel))))
            return len(changed) + len(removed)


@contextmanager
def _store_errors(where: str, action: str) -> Iterator[None]:
    """A failed store operation as one line naming the URL."""
    try:
        yield
    except FcgraphError:
        raise
    except Exception as exc:  # the store's client raises its own kinds (botocore's, aiohttp's)
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(f"{where}: cannot {action} ({text})") from None


def open_store(url: str) -> tuple[Any, str]:
    """``(fsspec filesystem, path in it)`` of ``url``; :class:`BadArgument` naming the package
    to install when fsspec or the store's implementation is missing."""
    try:
        import fsspec
    except ImportError:
        raise BadArgument(url, f"a run folder at a URL needs fsspec: {INSTALL_HINT}") from None
    try:
        # no listings cache: other processes write the same folder (workers, other machines)
        fs, path = fsspec.core.url_to_fs(url, use_listings_cache=False)
    except ImportError as exc:
        raise BadArgument(url, str(exc).splitlines()[0]) from None
    except ValueError as exc:
        raise BadArgument(url, f"not a URL fsspec knows ({exc})") from None
    return fs, str(path).rstrip("/")


# -- mirrors in this process ----------------------------------------------------------------------

_OPEN: dict[tuple[str, Path], Mirror] = {}
_ACTIVE: list[Mirror] = []
_REGISTRY = threading.Lock()


def open_mirror(url: str) -> Mirror:
    """The mirror of ``url`` in this process, under :func:`fcgraph.paths.mirror_dir` as it is now
    (one instance per URL and mirror folder)."""
    key = (str(url).rstrip("/"), mirror_dir())
    with _REGISTRY:
        if key not in _OPEN:
            _OPEN[key] = Mirror(key[0], key[1])
        return _OPEN[key]


@contextmanager
def activated(mirrors: Iterable[Mirror]) -> Iterator[None]:
    """Make ``mirrors`` active while the block runs: :func:`ensure_local` fetches their files, and
    :func:`fcgraph.execution.run_units` runs units on their URLs."""
    mirrors = list(mirrors)
    with _REGISTRY:
        _ACTIVE.extend(mirrors)
    try:
        yield
    finally:
        with _REGISTRY:
            for m in mirrors:
                _ACTIVE.remove(m)


def active() -> list[Mirror]:
    """The mirrors active in this process (distinct)."""
    with _REGISTRY:
        return list(dict.fromkeys(_ACTIVE))


def mirror_of(path: Path) -> Mirror | None:
    """The active mirror holding ``path``, if any."""
    path = Path(path).resolve()
    for m in active():
        if path.is_relative_to(m.files.resolve()):
            return m
    return None


def ensure_local(path: Path) -> None:
    """Before a file of a run folder is opened: fetch it if it lies in an active mirror that lacks
    it (the spikes, pulled lazily); nothing for a local run folder."""
    if _ACTIVE:
        m = mirror_of(path)
        if m is not None:
            m.ensure(path)


def publish(path: Path) -> None:
    """Send the run folder holding ``path`` to its store now, if it is an active mirror (a part
    just written: module doc); nothing for a local run folder."""
    if _ACTIVE:
        m = mirror_of(path)
        if m is not None:
            m.push()


@contextmanager
def local_run_folder(root: str | os.PathLike[str], *,
                     progress: Progress | None = None) -> Iterator[Path]:
    """The run folder ``root`` as a local path: ``root`` itself, or for a URL its mirror, synced
    before and after the block (module doc; what a failed block wrote is sent too).

    Parameters
    ----------
    root : str or path-like
        A folder, or a URL such as ``s3://bucket/runs/demo``.
    progress : callable, optional
        ``progress(task, files done, files)`` while files are fetched.

    Yields
    ------
    Path
        The folder the stage works in.
    """
    if not is_url(root):
        yield Path(root)
        return
    mirror = open_mirror(str(root))
    mirror.push()
    mirror.pull(progress=progress)
    with activated([mirror]):
        try:
            yield mirror.files
        except BaseException:
            with suppress(Exception):
                mirror.push()
            raise
    mirror.push()


# -- on Dask workers ------------------------------------------------------------------------------

#: ``(url, the client's mirror folder)`` of each mirror active on the client.
Spec = tuple[str, str]


def specs() -> list[Spec]:
    """What a worker needs to run a unit on this process's active mirrors."""
    return [(m.url, str(m.files)) for m in active()]


def _replace(value: Any, mapping: dict[str, str]) -> Any:
    """``value`` with every string that names a client's mirror folder (or a path in it) renamed
    to the worker's, inside tuples and lists."""
    if isinstance(value, str):
        for client, here in mapping.items():
            if value == client or value.startswith(client + "/"):
                return here + value[len(client):]
        return value
    if isinstance(value, tuple):
        return tuple(_replace(v, mapping) for v in value)
    if isinstance(value, list):
        return [_replace(v, mapping) for v in value]
    return value


@contextmanager
def on_worker(mirror_specs: Sequence[Spec]) -> Iterator[Callable[[Any], Any]]:
    """On a Dask worker, around one unit: pull its mirrors of the client's URLs (not the spikes,
    not the parts), yield the function that renames the client's paths in the unit's arguments,
    then push what the unit wrote."""
    mirrors = [open_mirror(url) for url, _ in mirror_specs]
    for m in mirrors:
        m.pull(skip_parts=True)
    mapping = {client: str(m.files) for (_, client), m in zip(mirror_specs, mirrors, strict=True)}
    with activated(mirrors):
        try:
            yield lambda args: _replace(args, mapping)
        except BaseException:
            for m in mirrors:
                with suppress(Exception):
                    m.push()
            raise
    for m in mirrors:
        m.push()


def probe_store(url: str, rel: str, expected: str) -> str | None:
    """On a worker: None when the file ``rel`` of the run folder at ``url`` holds ``expected``
    and the store takes a write, else the problem."""
    import secrets

    try:
        fs, base = open_store(url)
        found = fs.cat_file(f"{base}/{rel}").decode()
    except Exception as exc:  # noqa: BLE001 - the store's client raises its own kinds
        return f"cannot read {url}/{rel} ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    if found != expected:
        return f"{url}/{rel} is not the client's file"
    probe = f"{base}/.probe.{secrets.token_hex(6)}.tmp"
    try:
        fs.pipe_file(probe, b"")
        fs.rm_file(probe)
    except Exception as exc:  # noqa: BLE001 - as above
        return f"cannot write into {url} ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    return None
