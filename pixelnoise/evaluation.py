"""Evaluate a segmentation checkpoint on a split of any VOC-style folder (the evaluation rule
and `python -m pixelnoise evaluate`).

Writes ``<out>/metrics.csv`` (one row: method, split, images, mIoU %, pixel accuracy, one
``iou_<class>`` column per class) and ``<out>/predictions/<id>.png`` (palette PNGs). The
checkpoint carries architecture, classes and normalisation, so no config is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from pixelnoise.atomic import atomic_path, check_replaceable, file_in
from pixelnoise.data.palette import save_label_png
from pixelnoise.data.voc import VocDataset
from pixelnoise.device import resolve_device
from pixelnoise.errors import DatasetError
from pixelnoise.metrics import METRICS_FILE, ConfusionMatrix
from pixelnoise.models.checkpoints import load_segmentation
from pixelnoise.prediction import predict_labels

PREDICTIONS_DIR = "predictions"


def evaluate_checkpoint(
    *,
    checkpoint: str,
    data_root: str | None = None,
    dataset: VocDataset | None = None,
    ids: Sequence[str] | None = None,
    split: str = "val",
    out_dir: str,
    method: str | None = None,
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    crf: dict | None = None,
    device: str = "auto",
    extra: dict | None = None,
) -> dict:
    """Predict every image of ``split`` (or ``ids``), score against its masks, write outputs.
    Images without a mask are predicted but not scored (all scores NaN if none has one).

    Either ``dataset`` (the workflow's reader) or ``data_root`` (a folder; classes come from
    the checkpoint) gives the images. ``extra``: columns to add after ``method`` (e.g. the
    workflow's repeat and seed).
    """
    check_replaceable(out_dir)  # refuse a foreign --out before loading anything
    model, meta = load_segmentation(checkpoint)
    if dataset is None:
        dataset = VocDataset(
            data_root, class_names=list(meta["class_names"]), background=meta["background"]
        )
    names = list(dataset.classes.names)
    if names != list(meta["class_names"]):
        raise DatasetError(
            f"{checkpoint} was trained on classes {meta['class_names']}, "
            f"but {dataset.root} has {names}"
        )
    ids = list(ids) if ids is not None else dataset.split_ids(split)
    if not ids:
        raise DatasetError(f"split {split!r} of {dataset.root} lists no images")
    dev = resolve_device(device)
    model.to(dev)
    matrix = ConfusionMatrix(dataset.classes.num_classes)
    scored = 0
    with atomic_path(out_dir, directory=True) as tmp:
        predictions = Path(tmp) / PREDICTIONS_DIR
        predictions.mkdir()
        for image_id in tqdm(ids, desc=f"evaluate {split}", mininterval=5):
            image = dataset.read_image(image_id)
            labels = predict_labels(
                model, image, meta, scales=scales, flip=flip, crf=crf, device=dev
            )
            if dataset.has_mask(image_id):  # without masks: predictions only, no score
                matrix.update(labels, dataset.read_mask(image_id))
                scored += 1
            save_label_png(file_in(predictions, f"{image_id}.png"), labels)
        summary = matrix.summary(names)
        row = {
            "method": method or Path(checkpoint).stem,
            **(extra or {}),
            "split": split,
            "images": scored,  # images with a mask; the others are predicted, not scored
            "images_without_mask": len(ids) - scored,
            "miou": summary.pop("miou"),
            "pixel_acc": summary.pop("precision"),  # every pixel is labelled: pixel accuracy
            **{k: v for k, v in summary.items() if k.startswith("iou_")},
        }
        pd.DataFrame([row]).to_csv(Path(tmp) / METRICS_FILE, index=False, float_format="%.4f")
    return row
