"""``cupy.cuda`` of the CPU stand-in: one pretend device, cuBLAS's gemmEx, the runtime queries."""

from __future__ import annotations

from typing import Any

from cupy.cuda import cublas, device, runtime


class Device:
    """The one emulated device."""

    def __init__(self, index: int = 0) -> None:
        if index != 0:
            raise runtime.CUDARuntimeError(f"invalid device ordinal {index}")
        self.id = index

    @property
    def mem_info(self) -> tuple[int, int]:
        return 16 << 30, 16 << 30

    def synchronize(self) -> None:
        """Everything runs synchronously here."""

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


__all__ = ["Device", "cublas", "device", "runtime"]
