"""Small hand-made VOC-style trees for tests: random JPEGs, one object per mask, splits, labels."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from pixelnoise.data.palette import save_label_png


def write_voc_tree(
    root: Path,
    train: Sequence[str],
    val: Sequence[str],
    mask_of: Callable[[int], np.ndarray],
    labels_of: Callable[[int], str],
    classes: dict,
) -> Path:
    """Image k of ``train + val``: random pixels of the mask's size, ``mask_of(k)`` as its mask,
    ``labels_of(k)`` in image_labels.csv; ``classes`` is written as classes.json."""
    (root / "JPEGImages").mkdir(parents=True)
    (root / "ImageSets/Segmentation").mkdir(parents=True)
    rows = ["image_id,labels"]
    for k, image_id in enumerate([*train, *val]):
        mask = mask_of(k)
        pixels = np.random.default_rng(k).integers(0, 255, (*mask.shape, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "JPEGImages" / f"{image_id}.jpg", quality=90)
        save_label_png(root / "SegmentationClass" / f"{image_id}.png", mask)
        rows.append(f"{image_id},{labels_of(k)}")
    (root / "ImageSets/Segmentation/train.txt").write_text("\n".join(train) + "\n")
    (root / "ImageSets/Segmentation/val.txt").write_text("\n".join(val) + "\n")
    (root / "image_labels.csv").write_text("\n".join(rows) + "\n")
    (root / "classes.json").write_text(json.dumps(classes))
    return root
