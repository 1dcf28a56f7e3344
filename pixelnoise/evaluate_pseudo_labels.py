"""Stage: pseudo-label quality on the weak set (evaluation: the only reader of weak masks)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from pixelnoise.arraystore import ArrayReader
from pixelnoise.atomic import atomic_path
from pixelnoise.cam import cam_labels
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


def evaluate_method(
    *, method: str, manifest_path: str, dataset_cfg: dict, label_dirs: list[str], out: str
) -> dict:
    """Score one method's PNG pseudo labels; count images that fell back to CAM labels."""
    run = RunData.load(dataset_cfg, manifest_path)
    files = {p.stem: p for d in label_dirs for p in Path(d).glob("*.png")}
    ids = run.ids("weak")
    missing = sorted(set(ids) - set(files))
    if missing:
        raise FileNotFoundError(f"{method}: no pseudo labels for {missing[:5]} in {label_dirs}")
    matrix = score_label_maps(run.dataset, ids, {method: lambda i: load_label_png(files[i])})
    summaries = [pd.read_csv(Path(d) / "summary.csv") for d in label_dirs]
    fallbacks = int(sum(s["fallback"].sum() for s in summaries))
    row = {
        "method": method,
        "images": len(ids),
        **matrix[method].summary(list(run.dataset.classes.names)),
        "cam_fallbacks": fallbacks,
        "reads_weak_masks": method.startswith(USES_WEAK_MASKS),
    }
    write_rows([row], out)
    return row


def gather_rows(paths: list[str], out_path: str) -> pd.DataFrame:
    """Concatenate one-row-per-method CSVs into the pseudo-label table."""
    table = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    write_rows(table.to_dict("records"), out_path)
    return table
