"""``cupy.cuda.runtime`` of the CPU stand-in."""

from __future__ import annotations

from typing import Any


class CUDARuntimeError(RuntimeError):
    pass


def getDeviceCount() -> int:
    return 1


def getDeviceProperties(index: int) -> dict[str, Any]:
    if index != 0:
        raise CUDARuntimeError(f"invalid device ordinal {index}")
    return {"name": b"CPU emulator (not a GPU)", "major": 0, "minor": 0,
            "totalGlobalMem": 16 << 30}
