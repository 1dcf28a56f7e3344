"""Stage: pseudo-label quality on the weak set (evaluation: the only reader of weak masks)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pixelnoise.data.palette import load_label_png
from pixelnoise.methods import LABEL_MAPS, REGISTRY
from pixelnoise.metrics import score_label_maps, write_rows
from pixelnoise.run_data import RunData, label_files


def evaluate_methods(
    *, label_dirs: dict[str, list[str]], manifest_path: str, dataset_cfg: dict, out: str
) -> pd.DataFrame:
    """Score every method's PNG pseudo labels (``label_dirs``: method -> shard directories),
    reading each weak mask once; where the errors are (with a background class); count images
    that fell back to CAM labels. One row per method, in the order given, to ``out``."""
    run = RunData.load(dataset_cfg, manifest_path)
    ids = run.ids("weak")
    predictors = {}
    for method, dirs in label_dirs.items():
        files = label_files(method, ids, dirs)
        predictors[method] = lambda image_id, files=files: load_label_png(files[image_id])
    matrices, scored = score_label_maps(run.dataset, ids, predictors, "pseudo labels")
    names = list(run.dataset.classes.names)
    background = run.background
    rows = []
    for method, dirs in label_dirs.items():
        summaries = [pd.read_csv(Path(d) / "summary.csv") for d in dirs]
        rows.append(
            {
                "method": method,
                "images": len(scored),  # weak images with a mask: the ones scored
                "images_without_mask": len(ids) - len(scored),
                **matrices[method].summary(names),
                # without a background class every error is a wrong class: 1 - precision
                **(matrices[method].errors(background) if background is not None else {}),
                "cam_fallbacks": int(sum(s["fallback"].sum() for s in summaries)),
                "reads_weak_masks": REGISTRY.reads_weak_masks(method, LABEL_MAPS),
            }
        )
    write_rows(rows, out)
    return pd.DataFrame(rows)
