"""Training a segmentation network on (image, label map) pairs, 255 ignored.

Serves the clean model (D_c ground truth only) and the final segmentation network (D_c ground
truth plus the weak images' pseudo labels).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from pixelnoise.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    VOID,
    random_scale_flip_crop,
    to_tensor,
)
from pixelnoise.device import resolve_device
from pixelnoise.models.deeplab import SegmentationNet
from pixelnoise.training import fit, load_checkpoint, save_checkpoint, seed_everything


class LabelledImages(Dataset):
    """Augmented crops of images with their label maps (from any source)."""

    def __init__(
        self,
        ids: list[str],
        read_image: Callable[[str], np.ndarray],
        read_labels: Callable[[str], np.ndarray],
        cfg: dict,
        seed: int,
    ):
        self.ids, self.read_image, self.read_labels = ids, read_image, read_labels
        self.cfg, self.seed, self.epoch = cfg, seed, 0

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, self.epoch, index])
        image_id = self.ids[index]
        image, labels = random_scale_flip_crop(
            rng,
            self.read_image(image_id),
            self.read_labels(image_id),
            scale_range=tuple(self.cfg["scale_range"]),
            crop_size=self.cfg["crop_size"],
        )
        return to_tensor(image), torch.from_numpy(labels.astype(np.int64))


def train_segmentation(
    *,
    ids: list[str],
    read_image: Callable[[str], np.ndarray],
    read_labels: Callable[[str], np.ndarray],
    class_names: list[str],
    background: int | None,
    cfg: dict,
    checkpoint_path: str,
    log_path: str,
    seed: int = 0,
    device: str = "auto",
    description: str = "segmentation",
) -> list[dict]:
    """Train ``SegmentationNet`` with cross-entropy (void ignored) and the poly schedule."""
    if not ids:
        raise ValueError(f"{description}: no training images")
    seed_everything(seed)
    dev = resolve_device(device)
    model = SegmentationNet(
        cfg["backbone"],
        len(class_names),
        cfg["output_stride"],
        cfg["head"],
        pretrained=cfg["pretrained"],
    ).to(dev)
    history = fit(
        model,
        LabelledImages(ids, read_image, read_labels, cfg, seed),
        backbone=model.backbone,
        criterion=nn.CrossEntropyLoss(ignore_index=VOID),
        cfg=cfg,
        seed=seed,
        device=dev,
        log_path=log_path,
        description=description,
    )
    save_checkpoint(checkpoint_path, model.cpu(), segmentation_meta(cfg, class_names, background))
    return history


def segmentation_meta(cfg: dict, class_names: list[str], background: int | None) -> dict:
    """What a checkpoint carries so that it can be rebuilt and used without a config."""
    return {
        "kind": "segmentation",
        "backbone": cfg["backbone"],
        "output_stride": cfg["output_stride"],
        "head": cfg["head"],
        "class_names": list(class_names),
        "background": background,
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
    }


def load_segmentation(path: str) -> tuple[SegmentationNet, dict]:
    """Rebuild a segmentation network from its checkpoint alone (no config needed)."""
    checkpoint = load_checkpoint(path)
    meta = checkpoint["meta"]
    model = SegmentationNet(
        meta["backbone"], len(meta["class_names"]), meta["output_stride"], meta["head"]
    )
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), meta
