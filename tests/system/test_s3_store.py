"""The tests' S3 server (the ``s3_store`` fixture: S3Proxy on 127.0.0.1) through fsspec, as fcgraph
uses it for run folders given as ``s3://`` URLs: objects written, listed, read back, copied to and
from local files and removed; and a fresh subprocess reaching it from the environment alone, as a
Dask worker started by a test does."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.s3 import S3Store


def test_objects_round_trip(s3_store: S3Store, tmp_path: Path) -> None:
    import fsspec

    prefix = s3_store.url("round-trip")
    fs, root = fsspec.core.url_to_fs(prefix)  # from the environment alone
    payload = os.urandom(3 * 1024 * 1024 + 17)  # a few MB, not a multiple of any block size
    fs.pipe(f"{root}/a/blob.bin", payload)
    with fs.open(f"{root}/a/small.txt", "w") as f:
        f.write("hello S3\n")

    listing = s3_store.fs().find(root, detail=True)
    assert sorted(listing) == [f"{root}/a/blob.bin", f"{root}/a/small.txt"]
    blob = listing[f"{root}/a/blob.bin"]
    assert blob["size"] == len(payload)
    # a single-part upload's ETag is the MD5 of its bytes
    assert blob["ETag"].strip('"') == hashlib.md5(payload).hexdigest()
    assert listing[f"{root}/a/small.txt"]["size"] == len(b"hello S3\n")

    assert s3_store.fs().cat_file(f"{root}/a/blob.bin") == payload
    with s3_store.fs().open(f"{root}/a/small.txt") as f:
        assert f.read() == b"hello S3\n"

    local = tmp_path / "up.bin"
    local.write_bytes(payload[::-1])
    fs.put_file(str(local), f"{root}/b/up.bin")
    fs.get_file(f"{root}/b/up.bin", str(tmp_path / "down.bin"))
    assert (tmp_path / "down.bin").read_bytes() == payload[::-1]

    fs.rm_file(f"{root}/a/blob.bin")
    fresh = s3_store.fs()
    assert not fresh.exists(f"{root}/a/blob.bin")
    with pytest.raises(FileNotFoundError):
        fresh.cat_file(f"{root}/a/blob.bin")
    assert sorted(fresh.find(root)) == [f"{root}/a/small.txt", f"{root}/b/up.bin"]


def test_subprocess_reaches_store_from_environment(s3_store: S3Store) -> None:
    url = f"{s3_store.url('child')}/object.txt"
    with s3_store.fs().open(url, "wb") as f:
        f.write(b"written by the test process")
    code = ("import sys, fsspec\n"
            "with fsspec.open(sys.argv[1], 'rb') as f:\n"
            "    sys.stdout.write(f.read().decode())\n")
    done = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "written by the test process"
