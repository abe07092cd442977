"""Where the offline view draws each neuron: the one home of its layout (the page only draws).

Layers are columns, left to right by layer order, ``COLUMN_GAP`` apart. A conv layer (shape
``(C, H, W)``) is a grid of channel blocks, one block per channel present in the view (ascending
channel, row by row, ``ceil(sqrt(n))`` blocks to a row for ``n`` channels), each block its
``H x W`` grid of positions (``x`` to the right, ``y`` down, ``CELL`` apart), so a neuron's place
in its block is its spatial position. A dense layer is one column of its neurons in index order.
Each column is centred on ``y = 0``. Coordinates are the page's model units (the page zooms).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: distance between neighbouring neurons (model units)
CELL = 12.0
#: gap between the channel blocks of a conv layer
BLOCK_GAP = 2 * CELL
#: gap between a layer's rightmost neuron and the next layer's leftmost
COLUMN_GAP = 240.0


@dataclass
class Layout:
    """Neuron positions and the text the page writes on the canvas.

    ``positions`` maps uid to (x, y); ``labels`` are dicts ``{"text", "x", "y", "kind",
    "layer"}`` with kind ``"layer"`` (a column's heading) or ``"channel"`` (a block's).
    """

    positions: dict[str, tuple[float, float]] = field(default_factory=dict)
    labels: list[dict[str, Any]] = field(default_factory=list)


def _spatial(props: Mapping[str, Any]) -> tuple[int, int, int]:
    return (int(props.get("channel") or 0), int(props.get("y") or 0), int(props.get("x") or 0))


def layout(nodes: Mapping[str, Mapping[str, Any]],
           shapes: Mapping[str, Sequence[int]] | None = None) -> Layout:
    """Lay out the neurons of a view.

    Parameters
    ----------
    nodes
        uid -> neuron properties (``layer``, ``layer_order``, ``idx``, and for conv layers
        ``channel``, ``y``, ``x``).
    shapes
        layer name -> its shape, ``(C, H, W)`` or ``(N,)``. A layer missing here is conv when
        one of its neurons has ``y`` or ``x`` above 0, with ``H``, ``W`` the largest seen + 1.

    Returns
    -------
    Layout
        (x, y) per uid in model units, and the column and channel-block headings.
    """
    shapes = shapes or {}
    by_layer: dict[tuple[int, str], list[tuple[str, Mapping[str, Any]]]] = {}
    for uid, props in nodes.items():
        key = (int(props.get("layer_order") or 0), str(props.get("layer")))
        by_layer.setdefault(key, []).append((uid, props))
    out = Layout()
    x0 = 0.0
    for (_, name), members in sorted(by_layer.items()):
        members.sort(key=lambda m: (int(m[1].get("idx") or 0), m[0]))
        shape = tuple(shapes.get(name, ()))
        pos = [_spatial(p) for _, p in members]
        if len(shape) == 3:
            conv, h, w = True, int(shape[1]), int(shape[2])
        else:
            conv = not shape and any(y > 0 or x > 0 for _, y, x in pos)
            h = 1 + max((y for _, y, _ in pos), default=0)
            w = 1 + max((x for _, _, x in pos), default=0)
        if conv:
            channels = sorted({c for c, _, _ in pos})
            per_row = math.ceil(math.sqrt(len(channels)))
            block_w, block_h = w * CELL + BLOCK_GAP, h * CELL + BLOCK_GAP
            rows = math.ceil(len(channels) / per_row)
            width = (per_row - 1) * block_w + (w - 1) * CELL
            height = (rows - 1) * block_h + (h - 1) * CELL
            top = -height / 2
            block = {c: (x0 + (k % per_row) * block_w, top + (k // per_row) * block_h)
                     for k, c in enumerate(channels)}
            for (uid, _), (c, y, x) in zip(members, pos, strict=True):
                bx, by = block[c]
                out.positions[uid] = (bx + x * CELL, by + y * CELL)
            out.labels += [{"text": f"ch {c}", "x": bx + (w - 1) * CELL / 2, "y": by - CELL,
                            "kind": "channel", "layer": name} for c, (bx, by) in block.items()]
        else:
            width, height = 0.0, (len(members) - 1) * CELL
            top = -height / 2
            for rank, (uid, _) in enumerate(members):
                out.positions[uid] = (x0, top + rank * CELL)
        out.labels.append({"text": f"{name} ({len(members)})", "x": x0 + width / 2,
                           "y": top - 3 * CELL, "kind": "layer", "layer": name})
        x0 += width + COLUMN_GAP
    return out
