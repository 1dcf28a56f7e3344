"""Stage: the final segmentation network (Yi et al. Sec. III-D).

Trained on D_c's ground truth plus the weak images' labels that the segmentation method
(registry, ``checkpoint``) names: a pseudo-label method's label maps, or, for ``full_gt``, the
masks — an upper bound that reads weak masks. ``dc_only`` (the clean model, D_c alone) is
trained by its own rule.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from pixelnoise.data.palette import load_label_png
from pixelnoise.errors import ConfigError, DatasetError
from pixelnoise.methods import CHECKPOINT, REGISTRY
from pixelnoise.run_data import RunData
from pixelnoise.training.segmentation import train_segmentation


def training_set(
    run: RunData, method: str, label_dirs: list[str]
) -> tuple[list[str], Callable[[str], np.ndarray]]:
    """Training ids and their label reader: D_c's masks, then pseudo labels (or, for a method
    declared to train on masks, the masks) of the weak images."""
    spec = REGISTRY.get(method, CHECKPOINT)
    labels = spec.options.get("labels")
    if spec.stage != "train_segmentation" or labels not in ("masks", "pseudo"):
        raise ConfigError(f"segmentation method {method!r} is not trained by train_segmentation")
    strong, weak = run.ids("strong"), run.ids("weak")
    if labels == "masks":  # declared reads_weak_masks in the registry: an upper bound
        return strong + weak, run.dataset.read_mask
    files = {p.stem: p for d in label_dirs for p in Path(d).glob("*.png")}
    missing = [i for i in weak if i not in files]
    if missing:
        raise DatasetError(f"{method}: no pseudo labels for {missing[:5]} in {label_dirs}")
    strong_set = set(strong)

    def read_labels(image_id: str) -> np.ndarray:
        # D_c's masks are allowed; a weak image is only ever seen through its pseudo label.
        if image_id in strong_set:
            return run.dataset.read_mask(image_id)
        return load_label_png(files[image_id])

    return strong + weak, read_labels


def train_final_segmentation(
    *,
    method: str,
    manifest_path: str,
    dataset_cfg: dict,
    label_dirs: list[str],
    cfg: dict,
    checkpoint_path: str,
    log_path: str,
    seed: int,
    device: str,
    init_checkpoint: str | None = None,
) -> list[dict]:
    run = RunData.load(dataset_cfg, manifest_path)
    ids, read_labels = training_set(run, method, label_dirs)
    return train_segmentation(
        ids=ids,
        read_image=run.dataset.read_image,
        read_labels=read_labels,
        class_names=list(run.dataset.classes.names),
        background=run.background,
        cfg=cfg,
        checkpoint_path=checkpoint_path,
        log_path=log_path,
        seed=seed,
        device=device,
        description=f"segmentation ({method})",
        init_checkpoint=init_checkpoint,
    )
