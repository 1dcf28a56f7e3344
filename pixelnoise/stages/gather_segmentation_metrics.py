"""Stage: the segmentation tables, from each evaluated network's ``metrics.csv`` (written by
:func:`pixelnoise.evaluation.evaluate_checkpoint`): ``segmentation_repeats.csv`` with one row
per trained network (method, repeat, seed), and ``segmentation.csv`` with one row per method,
the mean over its repeats and the standard deviation of the mIoU (``miou_std``, empty for a
single training).

Needs no torch, so the gathering job starts fast.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pixelnoise.atomic import atomic_path
from pixelnoise.methods import CHECKPOINT, REGISTRY
from pixelnoise.metrics import METRICS_FILE


def summarise_repeats(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per method (in first-seen order): mean of every score over the repeats, the
    number of repeats and the standard deviation of the mIoU (ddof 1; NaN for one run).

    >>> runs = pd.DataFrame({"method": ["a", "b", "b"], "split": "val", "images": 4,
    ...                      "miou": [10.0, 20.0, 30.0], "pixel_acc": [0.5, 0.6, 0.8]})
    >>> columns = ["method", "repeats", "miou", "miou_std", "pixel_acc"]
    >>> summarise_repeats(runs)[columns].values.tolist()
    [['a', 1, 10.0, nan, 0.5], ['b', 2, 25.0, 7.0710678118654755, 0.7]]
    """
    scores = ["miou", "pixel_acc", *(c for c in runs.columns if c.startswith("iou_"))]
    grouped = runs.groupby("method", sort=False)
    counts = [c for c in ("split", "images", "images_without_mask") if c in runs]
    table = grouped[counts].first()
    table["repeats"] = grouped.size()
    table = table.join(grouped[scores].mean())
    table.insert(table.columns.get_loc("miou") + 1, "miou_std", grouped["miou"].std(ddof=1))
    return table.reset_index()


def gather_segmentation_rows(
    result_dirs: list[str], out_path: str, repeats_path: str | None = None
) -> pd.DataFrame:
    """The segmentation table: one row per method, baselines and upper bounds flagged."""
    runs = pd.concat([pd.read_csv(Path(d) / METRICS_FILE) for d in result_dirs], ignore_index=True)
    if repeats_path is not None:
        with atomic_path(repeats_path) as tmp:
            runs.to_csv(tmp, index=False, float_format="%.4f")
    table = summarise_repeats(runs)
    methods = [REGISTRY.get(m, CHECKPOINT) for m in table["method"]]
    table.insert(2, "trained_on", [m.description for m in methods])
    table["reads_weak_masks"] = [REGISTRY.reads_weak_masks(m.name, CHECKPOINT) for m in methods]
    with atomic_path(out_path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    return table
