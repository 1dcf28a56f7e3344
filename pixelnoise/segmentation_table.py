"""The segmentation table: each evaluated model's ``metrics.csv`` (written by
``pixelnoise.evaluate_segmentation``) gathered into ``results/metrics/segmentation.csv``.

Needs no torch, so the gathering job starts fast.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pixelnoise.atomic import atomic_path
from pixelnoise.methods import DC_ONLY, READS_WEAK_MASKS

METRICS_FILE = "metrics.csv"


def gather_segmentation_rows(result_dirs: list[str], out_path: str) -> pd.DataFrame:
    """The segmentation table: one row per evaluated model, baselines flagged."""
    table = pd.concat([pd.read_csv(Path(d) / METRICS_FILE) for d in result_dirs], ignore_index=True)
    trained_on = {DC_ONLY: "D_c ground truth only (the clean model)"}
    table.insert(
        2,
        "trained_on",
        [
            trained_on.get(m, "all train masks" if m in READS_WEAK_MASKS else f"D_c + {m} labels")
            for m in table["method"]
        ],
    )
    table["reads_weak_masks"] = table["method"].isin(READS_WEAK_MASKS)
    with atomic_path(out_path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    return table
