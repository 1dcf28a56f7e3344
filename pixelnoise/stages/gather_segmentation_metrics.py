"""Stage: the segmentation table, each evaluated model's ``metrics.csv`` (written by
:func:`pixelnoise.evaluation.evaluate_checkpoint`) gathered into
``results/metrics/segmentation.csv``.

Needs no torch, so the gathering job starts fast.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pixelnoise.atomic import atomic_path
from pixelnoise.methods import CHECKPOINT, REGISTRY
from pixelnoise.metrics import METRICS_FILE


def gather_segmentation_rows(result_dirs: list[str], out_path: str) -> pd.DataFrame:
    """The segmentation table: one row per evaluated model, baselines flagged."""
    table = pd.concat([pd.read_csv(Path(d) / METRICS_FILE) for d in result_dirs], ignore_index=True)
    methods = [REGISTRY.get(m, CHECKPOINT) for m in table["method"]]
    table.insert(2, "trained_on", [m.description for m in methods])
    table["reads_weak_masks"] = [REGISTRY.reads_weak_masks(m.name, CHECKPOINT) for m in methods]
    with atomic_path(out_path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    return table
