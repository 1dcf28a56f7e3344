"""Stage: pseudo-label quality on the weak set (evaluation: the only reader of weak masks)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from pixelnoise.arraystore import ArrayReader
from pixelnoise.atomic import atomic_path
from pixelnoise.cam_labels import cam_labels
from pixelnoise.data.palette import load_label_png
from pixelnoise.data.voc import VocDataset
from pixelnoise.metrics import VOID, ConfusionMatrix
from pixelnoise.stages_common import RunData

# Methods whose supervision reads weak masks: upper bounds, never a result.
USES_WEAK_MASKS = ("oracle",)


def score_label_maps(
    dataset: VocDataset,
    ids: Iterable[str],
    predictors: dict[object, Callable[[str], np.ndarray]],
    desc: str = "evaluate",
) -> dict[object, ConfusionMatrix]:
    """One confusion matrix per named predictor, reading each ground-truth mask once."""
    matrices = {name: ConfusionMatrix(dataset.classes.num_classes) for name in predictors}
    for image_id in tqdm(list(ids), desc=desc, mininterval=5):
        truth = dataset.read_mask(image_id)
        for name, predict in predictors.items():
            matrices[name].update(predict(image_id), truth)
    return matrices


def write_rows(rows: list[dict], path: str) -> None:
    with atomic_path(path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False, float_format="%.4f")


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
    matrices = score_label_maps(run.dataset, ids, {t: at(t) for t in taus}, "CAM sweep")
    names = list(run.dataset.classes.names)
    rows = [{"tau_bg": t, "images": len(ids), **matrices[t].summary(names)} for t in taus]
    write_rows(rows, out)
    return pd.DataFrame(rows)


def evaluate_methods(
    *, label_dirs: dict[str, list[str]], manifest_path: str, dataset_cfg: dict, out: str
) -> pd.DataFrame:
    """Score every method's PNG pseudo labels (``label_dirs``: method -> shard directories),
    reading each weak mask once; count images that fell back to CAM labels. One row per
    method, in the order given, to ``out``."""
    run = RunData.load(dataset_cfg, manifest_path)
    ids = run.ids("weak")
    predictors = {}
    for method, dirs in label_dirs.items():
        files = {p.stem: p for d in dirs for p in Path(d).glob("*.png")}
        missing = sorted(set(ids) - set(files))
        if missing:
            raise FileNotFoundError(f"{method}: no pseudo labels for {missing[:5]} in {dirs}")
        predictors[method] = lambda image_id, files=files: load_label_png(files[image_id])
    matrices = score_label_maps(run.dataset, ids, predictors, "pseudo labels")
    names = list(run.dataset.classes.names)
    rows = []
    for method, dirs in label_dirs.items():
        summaries = [pd.read_csv(Path(d) / "summary.csv") for d in dirs]
        rows.append(
            {
                "method": method,
                "images": len(ids),
                **matrices[method].summary(names),
                "cam_fallbacks": int(sum(s["fallback"].sum() for s in summaries)),
                "reads_weak_masks": method.startswith(USES_WEAK_MASKS),
            }
        )
    write_rows(rows, out)
    return pd.DataFrame(rows)
