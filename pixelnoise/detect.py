"""Label-noise detection (Yi et al., Sec. III-B): small-loss CAM labels are taken as clean.

A clean model C, trained on the strongly labelled split D_c, scores every CAM pseudo-label by
its cross-entropy under C's prediction (eq. 2, :func:`pixelnoise.losses.pixel_losses`).
Labels with loss below a threshold θ are kept as clean supervision for the GAT; the rest become
VOID. θ is chosen on D_c, where ground truth is known, by trading the accuracy of the kept
labels (quality) against the fraction kept (quantity) — the paper's Fig. 5.

>>> import numpy as np
>>> losses = [np.array([[0.01, 0.5], [2.0, np.nan]])]
>>> cams = [np.array([[1, 2], [1, 255]], np.uint8)]
>>> truths = [np.array([[1, 2], [2, 0]], np.uint8)]
>>> curve = theta_curve(losses, cams, truths, [0.1, 1.0, 5.0])
>>> curve[["theta", "accuracy", "kept"]].values.tolist()
[[0.1, 1.0, 1.0], [1.0, 1.0, 2.0], [5.0, 0.6666666666666666, 3.0]]
>>> choice = choose_theta(curve, min_accuracy=0.9)
>>> choice["theta"], choice["coverage"]
(1.0, 0.6666666666666666)
>>> clean_mask(losses[0], cams[0], choice["theta"]).tolist()
[[1, 2], [255, 255]]
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from pixelnoise.atomic import atomic_path
from pixelnoise.errors import ConfigError, PixelnoiseError
from pixelnoise.metrics import VOID


def theta_grid(low: float, high: float, num: int) -> np.ndarray:
    """``num`` log-spaced candidate thresholds from ``low`` to ``high`` (inclusive).

    The paper's chosen θ range from 3e-5 (D_c = 200) to 1e-3 (D_c = 1464), so lower ``low`` when
    the clean model is very confident. The values are the config's ``detect.theta_grid``.

    >>> grid = theta_grid(low=1e-3, high=10.0, num=40)
    >>> len(grid), float(grid[0]), float(grid[-1]), bool((grid[1:] / grid[:-1]).std() < 1e-9)
    (40, 0.001, 10.0, True)
    """
    if not (0 < low < high and math.isfinite(high)):
        raise ValueError(f"theta grid needs 0 < low < high < inf, got low={low}, high={high}")
    if num < 2:
        raise ValueError(f"theta grid needs num >= 2, got {num}")
    return np.geomspace(low, high, int(num))


def theta_curve(
    losses: Sequence[np.ndarray],
    cam_labels: Sequence[np.ndarray],
    truths: Sequence[np.ndarray],
    grid: Sequence[float] | np.ndarray,
) -> pd.DataFrame:
    """Accuracy and coverage of the labels kept (loss < θ) for every θ in ``grid``, on D_c.

    Only pixels with a ground-truth label and a CAM label count. For each θ:
    ``kept`` = pixels with loss < θ (a NaN loss is never kept); ``accuracy`` = fraction of the
    kept pixels whose CAM label equals the truth (NaN when none is kept); ``coverage`` = kept /
    all counted pixels. The three lists hold one H x W array per D_c image.

    Each pixel is binned once by the first θ that keeps it (``np.searchsorted`` on the sorted
    grid) and the per-θ counts are cumulative sums of the bins, so the cost is one pass over the
    pixels, independent of the grid size, and images are never concatenated.
    """
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or np.any(np.diff(grid) <= 0) or np.isnan(grid).any():
        raise ValueError("theta grid must be a non-empty, strictly increasing 1-D sequence")
    if not (len(losses) == len(cam_labels) == len(truths)):
        raise ValueError(
            f"got {len(losses)} loss maps, {len(cam_labels)} CAM labellings and "
            f"{len(truths)} ground truths; they must be one per image"
        )
    # bins[i] counts pixels first kept at grid[i]; the extra last bin holds pixels never kept
    kept_bins = np.zeros(grid.size + 1, np.int64)
    correct_bins = np.zeros(grid.size + 1, np.int64)
    total = 0
    for index, (loss, cam, truth) in enumerate(zip(losses, cam_labels, truths, strict=True)):
        loss, cam, truth = np.asarray(loss), np.asarray(cam), np.asarray(truth)
        if not (loss.shape == cam.shape == truth.shape):
            raise ValueError(
                f"image {index}: losses {loss.shape}, CAM labels {cam.shape} and truth "
                f"{truth.shape} differ in shape"
            )
        counted = (truth != VOID) & (cam != VOID)
        total += int(counted.sum())
        loss_c = loss[counted].astype(np.float64)
        correct = cam[counted] == truth[counted]
        # loss < grid[i]  <=>  i >= searchsorted(grid, loss, "right"); NaN sorts past the end.
        first = np.searchsorted(grid, loss_c, side="right")
        first[np.isnan(loss_c)] = grid.size
        kept_bins += np.bincount(first, minlength=grid.size + 1)
        correct_bins += np.bincount(first[correct], minlength=grid.size + 1)
    kept = np.cumsum(kept_bins)[:-1]
    correct = np.cumsum(correct_bins)[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(kept > 0, correct / np.maximum(kept, 1), np.nan)
        coverage = kept / total if total else np.full(grid.size, np.nan)
    return pd.DataFrame({"theta": grid, "accuracy": accuracy, "coverage": coverage, "kept": kept})


def choose_theta(
    curve: pd.DataFrame,
    *,
    min_accuracy: float | None = None,
    fixed: float | None = None,
) -> dict:
    """Pick θ from a ``theta_curve`` so the kept labels are both accurate and numerous.

    Rules, in order:

    * ``fixed`` given (config ``detect.theta``): use it (rule ``"fixed"``). Its accuracy and
      coverage are interpolated linearly in log θ between the neighbouring grid points (clamped
      to the grid's ends); for exact numbers, run ``theta_curve`` with ``grid=[fixed]``.
      ``reached`` says whether that accuracy meets ``min_accuracy`` (None without a target).
    * otherwise (config ``detect.min_accuracy``): the largest grid θ — hence the largest
      coverage, which never decreases with θ — whose accuracy is ≥ ``min_accuracy``
      (rule ``"max_coverage_at_min_accuracy"``, ``reached`` True);
    * if no θ reaches it: the θ with the highest accuracy, ties going to the larger coverage
      (rule ``"max_accuracy_fallback"``, ``reached`` False).

    >>> curve = pd.DataFrame({"theta": [0.1, 1.0, 10.0], "accuracy": [0.99, 0.95, 0.8],
    ...                       "coverage": [0.2, 0.6, 1.0], "kept": [2, 6, 10]})
    >>> choose_theta(curve, min_accuracy=0.9)["theta"]
    1.0
    >>> choose_theta(curve, min_accuracy=0.999)["rule"]
    'max_accuracy_fallback'
    """
    if min_accuracy is not None:
        if isinstance(min_accuracy, bool) or not isinstance(min_accuracy, numbers.Real):
            raise ConfigError(f"detect.min_accuracy must be a number, got {min_accuracy!r}")
        if not (0 < min_accuracy <= 1):
            raise ConfigError(f"detect.min_accuracy must be in (0, 1], got {min_accuracy}")
        min_accuracy = float(min_accuracy)
    if fixed is not None:
        if isinstance(fixed, bool) or not isinstance(fixed, numbers.Real):
            raise ConfigError(f"detect.theta must be a number, got {fixed!r}")
        if not (0 < fixed < math.inf):
            raise ConfigError(
                f"detect.theta must be a positive, finite loss threshold, got {fixed}"
            )
    elif min_accuracy is None:
        raise ConfigError("set either detect.theta (a fixed threshold) or detect.min_accuracy")

    missing = {"theta", "accuracy", "coverage"} - set(curve.columns)
    if missing or curve.empty:
        raise ValueError(f"curve must be a non-empty theta_curve table (missing {sorted(missing)})")
    curve = curve.sort_values("theta", kind="stable").reset_index(drop=True)
    thetas = curve["theta"].to_numpy(np.float64)
    accuracy = curve["accuracy"].to_numpy(np.float64)
    coverage = curve["coverage"].to_numpy(np.float64)

    if fixed is not None:
        log_t = np.log(thetas)
        acc = float(np.interp(math.log(fixed), log_t, accuracy))
        cov = float(np.interp(math.log(fixed), log_t, coverage))
        reached = None if min_accuracy is None else bool(acc >= min_accuracy)
        return _choice(float(fixed), acc, cov, "fixed", reached, min_accuracy)

    ok = np.flatnonzero(accuracy >= min_accuracy)  # NaN (nothing kept) compares False
    if ok.size:
        i = int(ok[-1])
        return _choice(
            thetas[i], accuracy[i], coverage[i], "max_coverage_at_min_accuracy", True, min_accuracy
        )
    if np.isnan(accuracy).all():
        raise PixelnoiseError(
            "no θ in the grid keeps any labelled pixel; raise the grid's upper end or check "
            "that the D_c losses, CAM labels and ground truth overlap"
        )
    best = np.nanmax(accuracy)
    # ties -> larger coverage; coverage is monotone in θ, so the last tied index
    i = int(np.flatnonzero(accuracy == best)[-1])
    return _choice(
        thetas[i], accuracy[i], coverage[i], "max_accuracy_fallback", False, min_accuracy
    )


def _choice(theta, accuracy, coverage, rule, reached, min_accuracy) -> dict:
    # plain Python floats, so the dict can be dumped to JSON/YAML as is
    return {
        "theta": float(theta),
        "accuracy": float(accuracy),
        "coverage": float(coverage),
        "rule": rule,
        "reached": reached,
        "min_accuracy": min_accuracy,
    }


def clean_mask(losses: np.ndarray, cam_labels: np.ndarray, theta: float) -> np.ndarray:
    """H x W uint8: the CAM label where loss < θ, VOID elsewhere (and where label/loss are void).

    >>> clean_mask(np.array([[0.1, 3.0, np.nan]]), np.array([[4, 5, 6]]), 1.0).tolist()
    [[4, 255, 255]]
    """
    losses = np.asarray(losses)
    cam_labels = np.asarray(cam_labels)
    if losses.shape != cam_labels.shape:
        raise ValueError(f"losses {losses.shape} and CAM labels {cam_labels.shape} differ")
    if cam_labels.size and (cam_labels.min() < 0 or cam_labels.max() > VOID):
        raise ValueError(f"CAM labels must lie in 0..{VOID} to fit uint8")
    if math.isnan(theta):
        raise ValueError("theta is NaN")
    keep = (losses < theta) & (cam_labels != VOID)  # NaN < θ is False: void losses drop out
    return np.where(keep, cam_labels, VOID).astype(np.uint8)


def plot_theta_curve(curve: pd.DataFrame, choice: dict, path: str | os.PathLike) -> None:
    """Write a PNG of accuracy and coverage against θ (log axis), marking the chosen θ."""
    # Figure + Agg canvas directly: no pyplot global state, no dependency on MPLBACKEND.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(curve["theta"], curve["accuracy"], marker=".", label="accuracy of kept labels")
    ax.plot(curve["theta"], curve["coverage"], marker=".", label="coverage (fraction kept)")
    theta = choice["theta"]
    ax.axvline(
        theta, color="k", linestyle="--", linewidth=1, label=f"θ = {theta:.3g} ({choice['rule']})"
    )
    if choice.get("min_accuracy") is not None:
        ax.axhline(
            choice["min_accuracy"],
            color="grey",
            linestyle=":",
            linewidth=1,
            label=f"min accuracy {choice['min_accuracy']:.3g}",
        )
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("loss threshold θ")
    ax.set_ylabel("fraction")
    reached = choice.get("reached")
    note = "" if reached is None else ("" if reached else " — target accuracy not reached")
    ax.set_title(
        f"clean-label selection on D_c: acc {choice['accuracy']:.3f}, "
        f"cov {choice['coverage']:.3f}{note}",
        fontsize=9,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        # the temporary name ends in .tmp, so the format must be explicit
        fig.savefig(tmp, format="png")


def labeller(method, inputs) -> Callable[[str], tuple[np.ndarray, bool]]:
    """The ``detect`` method (registry): the clean CAM labels of each weak image, void elsewhere."""

    def label(image_id: str) -> tuple[np.ndarray, bool]:
        losses = inputs.losses[image_id][0]
        return clean_mask(losses, inputs.cam_labels(image_id), inputs.theta), False

    return label
