"""Atomic writes: the mode a plain open would give (or the one asked for), and nothing lost on failure."""

from __future__ import annotations

import os
import stat

import pytest

from fcgraph.errors import FcgraphError
from fcgraph.io import atomic_path, atomic_write, atomic_write_text, remove_stale_temps


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_default_mode_follows_the_umask_and_secrets_stay_private(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "data.json", "{}\n")
        atomic_write_text(tmp_path / "secret.env", "X=1\n", mode=0o600)
    finally:
        os.umask(old)
    assert mode_of(tmp_path / "data.json") == 0o644
    assert mode_of(tmp_path / "secret.env") == 0o600
    assert (tmp_path / "data.json").read_text() == "{}\n"


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "table.bin"
    atomic_write(path, lambda fh: fh.write(b"old"))

    def broken(fh) -> None:
        fh.write(b"half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.bin"]


def test_atomic_path_renames_on_success_and_removes_on_failure(tmp_path):
    path = tmp_path / "spikes.nwb"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        assert tmp.parent == tmp_path and not tmp.exists()
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spikes.nwb"]
    with pytest.raises(FcgraphError, match="wrote nothing"), atomic_path(path):
        pass
    assert path.read_bytes() == b"old"
    old = os.umask(0o022)
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"new")
    finally:
        os.umask(old)
    assert path.read_bytes() == b"new" and mode_of(path) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spikes.nwb"]


def test_atomic_path_temp_of_a_dead_process_is_removed_later(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "a.nix") as tmp:
        raise RuntimeError(tmp.name)
    dead = tmp_path / tmp.name.replace(f".{os.getpid()}.", ".999999999.")
    dead.write_bytes(b"left by a killed writer")
    remove_stale_temps(tmp_path)
    assert not dead.exists()
