"""Stage: pseudo-label quality on the weak set (evaluation: the only reader of weak masks)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from tqdm import tqdm

from pixelnoise.atomic import atomic_path
from pixelnoise.cam import cam_labels
from pixelnoise.camstore import CamReader
from pixelnoise.data.manifest import ids_with_role, read_manifest
from pixelnoise.data.voc import VocDataset
from pixelnoise.metrics import VOID, ConfusionMatrix


def score_label_maps(
    dataset: VocDataset,
    ids: Iterable[str],
    predictors: dict[str, Callable[[str], np.ndarray]],
    desc: str = "evaluate",
) -> dict[str, ConfusionMatrix]:
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


def evaluate_cams(
    *,
    manifest_path: str,
    dataset_cfg: dict,
    cam_paths: list[str],
    tau_bg: float,
    sweep: list[float],
    out_metrics: str,
    out_sweep: str,
) -> dict:
    """Score CAM labels (the ``cam`` row) and thresholded CAMs over the ``sweep``.

    With a background class, pixels below the threshold become background and the ``cam`` row
    uses ``tau_bg``. Without one, every pixel takes its strongest present class (threshold 0)
    and the sweep shows seeds: pixels below the threshold are left unlabelled.
    """
    dataset = VocDataset.from_config(dataset_cfg)
    ids = ids_with_role(read_manifest(manifest_path), "weak")
    reader = CamReader(cam_paths)
    background = dataset.classes.background
    low_label = VOID if background is None else background
    cam_tau = float(tau_bg) if background is not None else 0.0
    taus = sorted({float(t) for t in sweep} | {cam_tau})
    cache: dict[str, tuple[np.ndarray, list[int]]] = {}

    def predictor(tau: float) -> Callable[[str], np.ndarray]:
        def predict(image_id: str) -> np.ndarray:
            if image_id not in cache:  # every threshold reuses the image's CAMs
                cache.clear()
                cache[image_id] = reader[image_id]
            cams, classes = cache[image_id]
            return cam_labels(cams, classes, low_label, tau)

        return predict

    matrices = score_label_maps(dataset, ids, {t: predictor(t) for t in taus}, "CAM labels")
    names = list(dataset.classes.names)
    sweep_rows = [{"tau_bg": t, "images": len(ids), **matrices[t].summary(names)} for t in taus]
    write_rows(sweep_rows, out_sweep)
    row = {
        "method": "cam",
        "images": len(ids),
        "tau_bg": cam_tau,
        **matrices[cam_tau].summary(names),
    }
    write_rows([row], out_metrics)
    return row


def gather_rows(paths: list[str], out_path: str) -> pd.DataFrame:
    """Concatenate one-row-per-method CSVs into the pseudo-label table."""
    table = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    write_rows(table.to_dict("records"), out_path)
    return table
