"""Stage: train the multi-label classifier on image-level labels (Fan et al. eq. 1).

Reads only images and their image-level labels: no mask is opened here.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from pixelnoise.data.manifest import ids_with_role, read_manifest
from pixelnoise.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    random_scale_flip_crop,
    to_tensor,
)
from pixelnoise.data.voc import VocDataset
from pixelnoise.device import resolve_device
from pixelnoise.models.classifier import CamClassifier
from pixelnoise.training import fit, load_checkpoint, save_checkpoint, seed_everything


class ImageLabelDataset(Dataset):
    """Augmented crops with multi-hot targets over the object classes."""

    def __init__(self, dataset: VocDataset, ids: list[str], cfg: dict, seed: int):
        self.dataset, self.ids, self.cfg, self.seed = dataset, ids, cfg, seed
        self.epoch = 0
        position = {c: i for i, c in enumerate(dataset.classes.object_classes)}
        self.targets = torch.zeros(len(ids), len(position))
        for row, image_id in enumerate(ids):
            for c in dataset.labels(image_id):
                self.targets[row, position[c]] = 1.0

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int):
        # Seeded by (seed, epoch, index): identical batches with any number of workers.
        rng = np.random.default_rng([self.seed, self.epoch, index])
        image, _ = random_scale_flip_crop(
            rng,
            self.dataset.read_image(self.ids[index]),
            scale_range=tuple(self.cfg["scale_range"]),
            crop_size=self.cfg["crop_size"],
        )
        return to_tensor(image), self.targets[index]


def exact_match(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of images whose whole label set is predicted right."""
    return ((logits > 0).float() == targets).all(dim=1).float().mean().item()


def train_classifier(
    *,
    manifest_path: str,
    dataset_cfg: dict,
    cfg: dict,
    checkpoint_path: str,
    log_path: str,
    seed: int = 0,
    device: str = "auto",
) -> list[dict]:
    """Train on every train image (D_c and D_n alike: only image-level labels are used)."""
    seed_everything(seed)
    dev = resolve_device(device)
    dataset = VocDataset.from_config(dataset_cfg)
    ids = ids_with_role(read_manifest(manifest_path), "strong", "weak")
    object_classes = list(dataset.classes.object_classes)
    model = CamClassifier(
        cfg["backbone"], len(object_classes), cfg["output_stride"], cfg["pretrained"]
    ).to(dev)
    history = fit(
        model,
        ImageLabelDataset(dataset, ids, cfg, seed),
        backbone=model.backbone,
        criterion=nn.BCEWithLogitsLoss(),
        cfg=cfg,
        seed=seed,
        device=dev,
        log_path=log_path,
        description=f"classifier {cfg['backbone']}",
        accuracy=exact_match,
    )
    meta = {
        "kind": "classifier",
        "backbone": cfg["backbone"],
        "output_stride": cfg["output_stride"],
        "object_classes": object_classes,
        "class_names": list(dataset.classes.names),
        "background": dataset.classes.background,
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
    }
    save_checkpoint(checkpoint_path, model.cpu(), meta)
    return history


def load_classifier(path: str) -> tuple[CamClassifier, dict]:
    """Rebuild a trained classifier from its checkpoint alone."""
    checkpoint = load_checkpoint(path)
    meta = checkpoint["meta"]
    model = CamClassifier(meta["backbone"], len(meta["object_classes"]), meta["output_stride"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), meta
