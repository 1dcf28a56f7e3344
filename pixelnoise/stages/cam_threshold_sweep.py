"""Stage: CAM pseudo-label quality on the weak set for each background threshold τ (an
evaluation rule: it reads weak masks)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from pixelnoise.arraystore import ArrayReader
from pixelnoise.cam_labels import cam_labels
from pixelnoise.metrics import VOID, score_label_maps, write_rows
from pixelnoise.run_data import RunData


def cam_threshold_sweep(
    *, manifest_path: str, dataset_cfg: dict, cam_paths: list[str], sweep: list[float], out: str
) -> pd.DataFrame:
    """Quality of thresholded CAMs for each τ of the sweep.

    With a background class, pixels below τ become background; without one they are left
    unlabelled, so the sweep shows the precision/coverage trade-off of CAM seeds.
    """
    run = RunData.load(dataset_cfg, manifest_path)
    cams = ArrayReader(cam_paths)
    low_label = VOID if run.background is None else run.background
    taus = sorted({float(t) for t in sweep})
    cache: dict[str, tuple[np.ndarray, list[int]]] = {}

    def at(tau: float) -> Callable[[str], np.ndarray]:
        def predict(image_id: str) -> np.ndarray:
            if image_id not in cache:  # every threshold reuses the image's CAMs
                cache.clear()
                cache[image_id] = cams.cams(image_id)
            return cam_labels(*cache[image_id], low_label, tau)

        return predict

    ids = run.ids("weak")
    matrices, scored = score_label_maps(run.dataset, ids, {t: at(t) for t in taus}, "CAM sweep")
    names = list(run.dataset.classes.names)
    counts = {"images": len(scored), "images_without_mask": len(ids) - len(scored)}
    rows = [{"tau_bg": t, **counts, **matrices[t].summary(names)} for t in taus]
    write_rows(rows, out)
    return pd.DataFrame(rows)
