"""Cross-validated read-out of the presented class from a layer's per-image features.

:func:`decode` fits a multinomial logistic regression (scikit-learn, features standardised, L2
penalty C = 0.1) in
stratified k-fold cross-validation and scores the held-out predictions: accuracy and the mutual
information (bits) between true and predicted class (bias-corrected by
:func:`fcgraph.analysis.information.mutual_information`, the plug-in value beside it), each with
a bootstrap CI over images (class-stratified for the MI), a
label-shuffle baseline (the same pipeline refitted on permuted labels: chance level), and a
permutation p-value of the accuracy (``n_permutations`` label permutations against the fixed
cross-validated predictions; no refit, so hundreds are cheap; slightly conservative, since
under no information cross-validated predictions tend to disagree with the held-out labels).
:func:`compare` gives the paired difference of two read-outs on the same images.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fcgraph.analysis.information import MI_BOOT, mutual_information


def _predict(X: np.ndarray, y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, tol=1e-3, max_iter=300))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return cross_val_predict(model, X, y, cv=cv)


def _ci(values: np.ndarray, ci: float) -> tuple[float, float]:
    lo, hi = np.nanpercentile(values, [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100])
    return float(lo), float(hi)


def decode(X: np.ndarray, y: np.ndarray, *, folds: int = 5, n_shuffle: int = 2, n_boot: int = 500,
           n_permutations: int = 1000, seed: int = 0, ci: float = 0.95) -> dict[str, Any]:
    """Read out ``y`` (int (n_samples,)) from ``X`` (float (n_samples, n_features)).

    Returns accuracy (+ _lo/_hi), mi_bits (bias-corrected MI of true and predicted class, bits;
    + _lo/_hi from min(n_boot, ``MI_BOOT``) resamples), mi_bits_plugin (its plug-in value),
    mi_estimator, shuffle_accuracy, shuffle_mi_bits (bias-corrected, mean over the shuffles)
    and shuffle_mi_bits_plugin,
    p_permutation (with ``n_permutations``), majority (the most frequent class's share),
    n_samples, n_features, folds, and ``correct`` (bool (n_samples,), popped by callers that
    compare read-outs). Classes with fewer than 2
    samples are dropped; with fewer than 2 classes the scores are None.
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)
    classes, counts = np.unique(y, return_counts=True)
    keep = np.isin(y, classes[counts >= 2])
    X, y = X[keep], y[keep]
    classes, counts = np.unique(y, return_counts=True)
    out: dict[str, Any] = {"n_samples": int(y.size), "n_features": int(X.shape[1]),
                           "majority": float(counts.max() / y.size) if y.size else None}
    if classes.size < 2 or X.shape[1] == 0:
        return {**out, "accuracy": None, "correct": None}
    folds = int(min(folds, counts.min()))
    out["folds"] = folds
    rng = np.random.default_rng(seed)
    pred = _predict(X, y, folds, seed)
    correct = pred == y
    boot = rng.integers(0, y.size, size=(n_boot, y.size))
    accs = correct[boot].mean(axis=1)
    mi_rng = np.random.default_rng([seed, 1])
    mi = mutual_information(y, pred, n_boot=min(n_boot, MI_BOOT), ci=ci, rng=mi_rng)
    sh_acc, sh_mi, sh_plugin = [], [], []
    for _ in range(n_shuffle):
        ys = rng.permutation(y)
        ps = _predict(X, ys, folds, seed)
        sh_acc.append(float((ps == ys).mean()))
        sh = mutual_information(ys, ps, n_boot=0, rng=mi_rng)
        sh_mi.append(sh["mi"])
        sh_plugin.append(sh["mi_plugin"])
    perm = np.array([(pred == rng.permutation(y)).mean() for _ in range(n_permutations)])
    out["p_permutation"] = float((1 + (perm >= correct.mean()).sum()) / (1 + perm.size)) \
        if perm.size else None
    out["n_permutations"] = int(perm.size)
    out.update(accuracy=float(correct.mean()), mi_bits=mi["mi"], mi_bits_lo=mi["mi_lo"],
               mi_bits_hi=mi["mi_hi"], mi_bits_plugin=mi["mi_plugin"],
               mi_estimator=mi["estimator"],
               shuffle_accuracy=float(np.mean(sh_acc)) if sh_acc else None,
               shuffle_mi_bits=float(np.mean(sh_mi)) if sh_mi else None,
               shuffle_mi_bits_plugin=float(np.mean(sh_plugin)) if sh_plugin else None,
               correct=correct)
    out["accuracy_lo"], out["accuracy_hi"] = _ci(accs, ci)
    return out


def compare(a: dict[str, Any], b: dict[str, Any], *, n_boot: int = 1000, seed: int = 0,
            ci: float = 0.95) -> dict[str, Any]:
    """Paired accuracy difference a - b of two :func:`decode` results on the same samples, with a
    bootstrap CI over samples (None when either read-out has no score)."""
    ca, cb = a.get("correct"), b.get("correct")
    if ca is None or cb is None or len(ca) != len(cb):
        return {"difference": None, "difference_lo": None, "difference_hi": None}
    rng = np.random.default_rng(seed)
    boot = rng.integers(0, len(ca), size=(n_boot, len(ca)))
    diffs = ca[boot].mean(1) - cb[boot].mean(1)
    lo, hi = _ci(diffs, ci)
    return {"difference": float(ca.mean() - cb.mean()), "difference_lo": lo, "difference_hi": hi}
