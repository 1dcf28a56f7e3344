"""Stage: train the multi-label classifier on image-level labels (Fan et al. eq. 1).

Reads only images and their image-level labels: no mask is opened here.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

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
from pixelnoise.training import (
    build_optimizer,
    load_checkpoint,
    poly_lr,
    save_checkpoint,
    seed_everything,
    write_csv,
)

log = logging.getLogger(__name__)


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
    data = ImageLabelDataset(dataset, ids, cfg, seed)
    loader = DataLoader(
        data,
        batch_size=cfg["batch_size"],
        shuffle=True,
        drop_last=len(ids) > cfg["batch_size"],
        num_workers=cfg["num_workers"],
        generator=torch.Generator().manual_seed(seed),
    )
    object_classes = list(dataset.classes.object_classes)
    model = CamClassifier(
        cfg["backbone"], len(object_classes), cfg["output_stride"], cfg["pretrained"]
    ).to(dev)
    # The randomly initialised head learns faster than a (possibly pretrained) backbone.
    optimizer = build_optimizer(
        [
            {"params": model.backbone.parameters(), "lr_mult": 1.0},
            {"params": model.classifier.parameters(), "lr_mult": 10.0},
        ],
        cfg["optimizer"],
        cfg["lr"],
        cfg["weight_decay"],
    )
    criterion = nn.BCEWithLogitsLoss()
    total_steps = cfg["epochs"] * len(loader)
    step, history = 0, []
    log.info(
        "classifier %s on %d images, %d steps, %s", cfg["backbone"], len(ids), total_steps, dev
    )
    for epoch in range(cfg["epochs"]):
        data.epoch = epoch
        model.train()
        start, losses, correct, seen = time.time(), [], 0, 0
        for images, targets in tqdm(loader, desc=f"classifier epoch {epoch + 1}", leave=False):
            lr = poly_lr(cfg["lr"], step, total_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr * group["lr_mult"]
            images, targets = images.to(dev), targets.to(dev)
            logits = model(images)
            loss = criterion(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            losses.append(loss.item())
            correct += ((logits > 0).float() == targets).all(dim=1).sum().item()
            seen += len(targets)
        history.append(
            {
                "epoch": epoch + 1,
                "loss": float(np.mean(losses)),
                "exact_match": correct / max(seen, 1),
                "lr": lr,
                "seconds": round(time.time() - start, 2),
            }
        )
        log.info("epoch %(epoch)d loss %(loss).4f exact-match %(exact_match).3f", history[-1])
        write_csv(history, log_path)
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
