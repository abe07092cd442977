"""Atomic writes: the mode a plain open would give (or the one asked for), and nothing lost on failure."""

from __future__ import annotations

import os
import stat

import pytest

from fcgraph.io import atomic_write, atomic_write_text


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
