"""The built-in negative control: the post layer's images put in a random order.

Reordering whole T-bin image blocks of the post layer keeps every post train's within-image
structure and spike count, but makes pre and post independent by construction (each pre image
now faces another image's post response). Any edge found there is a false edge, so the edge
rate of a rule on this control is its false-edge rate, to compare with the nominal rate.

Each control is one *draw*, a derangement of the images drawn from ``(seed, draw)``: draw 0 is
the one :func:`calibrate` measures by default, draw 1 the one
:func:`fcgraph.fc.threshold.control_threshold` sets the threshold from, so that the measured
rate of a control threshold comes from an independent draw.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fcgraph.errors import FcgraphError
from fcgraph.fc.edges import significant_edges
from fcgraph.spikes import Spikes, as_source, permute_images

#: The control draw that :func:`calibrate` measures unless told otherwise.
CALIBRATION_DRAW = 0


def derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random permutation of range(n) with no fixed point (n >= 2), by rejection."""
    if n < 2:
        raise FcgraphError(f"reordering images needs at least 2 images, got {n}")
    while True:
        order = rng.permutation(n)
        if not (order == np.arange(n)).any():
            return order


def trial_rotation(n_images: int, trials: int, rng: np.random.Generator) -> np.ndarray:
    """A presentation order (int64 (n_images,)) that moves each image to another of its trials.

    The recording holds ``trials`` repeats of n_images / trials images, trial-major
    (presentation r n + i is image i in trial r). Image i's trials are rotated by its own
    random k_i in 1 .. trials-1, so every presentation faces the same image in another trial.
    """
    if trials < 2 or n_images % trials:
        raise FcgraphError(f"{n_images} presentations are not 2 or more whole trials ({trials})")
    per_trial = n_images // trials
    offset = rng.integers(1, trials, size=per_trial)
    trial = np.arange(trials)[:, None]
    image = np.arange(per_trial)[None, :]
    return (((trial + offset[None, :]) % trials) * per_trial + image).ravel().astype(np.int64)


def control_order(n_images: int, seed: int, draw: int = CALIBRATION_DRAW,
                  trials: int | None = None) -> np.ndarray:
    """The image order (int64 (n_images,)) of control ``draw`` for ``seed``.

    A derangement of the images; with ``trials`` (the trial null's control) a
    :func:`trial_rotation` instead, which keeps the image and changes the trial, so that
    stimulus-locked correlations survive and only within-trial ones are broken. Draw 0 keeps
    the order fcgraph always used for ``seed``; other draws are independent of it.
    """
    key = [seed, 0x6E6567] if draw == 0 else [seed, 0x6E6567, int(draw)]
    if trials is not None:
        return trial_rotation(n_images, trials, np.random.default_rng([*key, 0x747269]))
    return derangement(n_images, np.random.default_rng(key))


def control_trains(post: Spikes, *, T: int, seed: int, draw: int = CALIBRATION_DRAW,
                   trials: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The control post trains: boolean (n_post, L), images reordered by :func:`control_order`.

    Returns ``(trains, order)``; L must be a whole number of T-bin images. ``trials``: the
    trial null's control (the trial of each image rotated), else the images reordered.
    """
    src = as_source(post, "post")
    if src.L % T:
        raise FcgraphError(f"L = {src.L} bins is not a whole number of images of T = {T}")
    order = control_order(src.L // T, seed, draw, trials)
    return permute_images(src, order, T), order


def calibrate(pre: Spikes, post: Spikes, *, T: int, seed: int = 0, draw: int = CALIBRATION_DRAW,
              nominal_rate: float | None = None, **rule: Any) -> dict[str, Any]:
    """The false-edge rate of an edge rule on the image-reordered negative control.

    With the trial null (``rule`` has ``trials``) the control keeps each image and rotates its
    trials (:func:`trial_rotation`): the pairs are then independent given the image.

    ``pre`` (n_pre, L), ``post`` (n_post, L): boolean trains or :class:`SpikeMatrix`; ``rule``:
    any keyword of :func:`~fcgraph.fc.edges.significant_edges` (z, null, min_spikes, fdr, ...).
    The post images are reordered by the derangement of control ``draw`` for ``seed``
    (:func:`control_order`). ``nominal_rate``: the rate the rule promises (default: the
    one-sided normal tail of its z threshold; give it when z was itself set from a control,
    :func:`fcgraph.fc.threshold.control_threshold`).

    Returns a dict: ``false_edges`` (significant pairs, before any top_k cut), ``tested``,
    ``false_edge_rate`` (false_edges / tested), ``nominal_rate`` (e.g. 0.00135 at z = 3; None
    with fdr, which bounds the chance of any false edge instead), ``ratio`` (false / nominal),
    ``draw``, ``image_order`` and the control's ``report``.
    """
    control, order = control_trains(post, T=T, seed=seed, draw=draw, trials=rule.get("trials"))
    _, report = significant_edges(pre, control, T=T, seed=seed, **rule)
    tested = report["tested"]
    false_edges = report["significant"]
    rate = false_edges / tested if tested else float("nan")
    nominal = None if rule.get("fdr") is not None else \
        report["nominal_rate"] if nominal_rate is None else float(nominal_rate)
    return {
        "false_edges": false_edges,
        "tested": tested,
        "false_edge_rate": rate,
        "nominal_rate": nominal,
        "ratio": rate / nominal if nominal else None,
        "draw": draw,
        "image_order": order,
        "report": report,
    }
