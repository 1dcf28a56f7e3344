"""The multi-label CAM classifier trained on image-level labels (Fan et al. eq. 1).

Reads only images and their image-level labels: no mask is opened here.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from pixelnoise.data.transforms import photometric_jitter, random_scale_flip_crop, to_tensor
from pixelnoise.data.voc import VocDataset
from pixelnoise.device import resolve_device
from pixelnoise.models.checkpoints import classifier_meta, save_checkpoint
from pixelnoise.models.classifier import CamClassifier
from pixelnoise.training.loop import fit, seed_everything, supervised_step


class ImageLabelDataset(Dataset):
    """Augmented crops with multi-hot targets over the object classes."""

    def __init__(self, dataset: VocDataset, ids: list[str], cfg: dict, seed: int):
        self.dataset, self.ids, self.cfg, self.seed = dataset, ids, cfg, seed
        self.epoch = 0
        # Decode each image once rather than every epoch, when the config asks for it.
        self.read_image = cache(dataset.read_image) if cfg["cache_images"] else dataset.read_image
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
            self.read_image(self.ids[index]),
            scale_range=tuple(self.cfg["scale_range"]),
            crop_size=self.cfg["crop_size"],
        )
        if self.cfg["photometric"]:
            image = photometric_jitter(rng, image)
        return to_tensor(image), self.targets[index]


def exact_match(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of images whose whole label set is predicted right."""
    return ((logits > 0).float() == targets).all(dim=1).float().mean().item()


def train_classifier(
    *,
    dataset: VocDataset,
    ids: list[str],
    cfg: dict,
    checkpoint_path: str,
    log_path: str,
    seed: int = 0,
    device: str = "auto",
    config_key: str = "classifier",
) -> list[dict]:
    """Train on ``ids`` (D_c and D_n alike: only image-level labels are used); ``config_key``
    names ``cfg``'s section (``classifier`` or ``second_classifier``) in messages."""
    seed_everything(seed)
    dev = resolve_device(device)
    object_classes = list(dataset.classes.object_classes)
    model = CamClassifier(
        cfg["backbone"], len(object_classes), cfg["output_stride"], cfg["pretrained"]
    ).to(dev)
    history = fit(
        model,
        ImageLabelDataset(dataset, ids, cfg, seed),
        backbone=model.backbone,
        step=supervised_step(nn.BCEWithLogitsLoss()),
        cfg=cfg,
        seed=seed,
        device=dev,
        log_path=log_path,
        description=f"classifier {cfg['backbone']}",
        config_key=config_key,
        accuracy=exact_match,
    )
    meta = classifier_meta(cfg, dataset.classes.names, object_classes, dataset.classes.background)
    save_checkpoint(checkpoint_path, model.cpu(), meta)
    return history
