"""Training a segmentation network on (image, label map) pairs, 255 ignored.

Serves the clean model (D_c ground truth only) and the final segmentation network (D_c ground
truth plus the weak images' pseudo labels).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import torch
from torch.utils.data import Dataset

from pixelnoise.data.transforms import photometric_jitter, random_scale_flip_crop, to_tensor
from pixelnoise.device import resolve_device
from pixelnoise.errors import ConfigError
from pixelnoise.losses import void_cross_entropy
from pixelnoise.models.checkpoints import load_checkpoint, save_checkpoint, segmentation_meta
from pixelnoise.models.deeplab import SegmentationNet
from pixelnoise.training.loop import Step, fit, seed_everything, supervised_step


class LabelledImages(Dataset):
    """Augmented crops of images with their label maps (from any source): an H x W map gives
    an H x W target, H x W x K maps (several estimates per pixel) a K x H x W target."""

    def __init__(
        self,
        ids: list[str],
        read_image: Callable[[str], np.ndarray],
        read_labels: Callable[[str], np.ndarray],
        cfg: dict,
        seed: int,
    ):
        if cfg["cache_images"]:  # decode each image and label map once, not every epoch
            read_image, read_labels = cache(read_image), cache(read_labels)
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
        if self.cfg["photometric"]:
            image = photometric_jitter(rng, image)
        if labels.ndim == 3:
            labels = labels.transpose(2, 0, 1)
        return to_tensor(image), torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64))


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
    config_key: str = "segment.network",
    step: Step | None = None,
    init_checkpoint: str | None = None,
) -> list[dict]:
    """Train ``SegmentationNet`` with the shared loop; ``step`` defaults to the cross-entropy
    over the labelled pixels (void ignored, all-void batches skipped). ``init_checkpoint``: a
    segmentation checkpoint of the same architecture and classes to start from (e.g. the clean
    model, which has already seen D_c) instead of the backbone's initialisation. ``config_key``
    names ``cfg``'s section in messages."""
    if not ids:
        raise ValueError(f"{description}: no training images")
    seed_everything(seed)
    dev = resolve_device(device)
    model = segmentation_network(cfg, class_names, init_checkpoint).to(dev)
    history = fit(
        model,
        LabelledImages(ids, read_image, read_labels, cfg, seed),
        backbone=model.backbone,
        step=step or supervised_step(void_cross_entropy),
        cfg=cfg,
        seed=seed,
        device=dev,
        log_path=log_path,
        description=description,
        config_key=config_key,
    )
    save_checkpoint(checkpoint_path, model.cpu(), segmentation_meta(cfg, class_names, background))
    return history


def segmentation_network(
    cfg: dict, class_names: list[str], init_checkpoint: str | None
) -> SegmentationNet:
    """The network a ``segment.network``-style section describes, started from
    ``init_checkpoint`` if given (see :func:`load_initial_weights`)."""
    model = SegmentationNet(
        cfg["backbone"],
        len(class_names),
        cfg["output_stride"],
        cfg["head"],
        pretrained=cfg["pretrained"],
    )
    if init_checkpoint is not None:
        load_initial_weights(model, init_checkpoint, cfg, class_names)
    return model


def load_initial_weights(model: SegmentationNet, path: str, cfg: dict, class_names) -> None:
    """Start ``model`` from a checkpoint: all weights of a segmentation checkpoint of the same
    architecture and classes (e.g. the clean model), or the backbone of a classifier of the
    same backbone (trained on every train image's image-level labels)."""
    checkpoint = load_checkpoint(path)
    meta = checkpoint["meta"]
    if meta.get("kind") == "classifier":
        if meta["backbone"] != cfg["backbone"]:
            raise ConfigError(
                f"cannot start from {path} (config key `init`): its backbone is "
                f"{meta['backbone']}, this network's {cfg['backbone']}"
            )
        prefix = "backbone."
        backbone = {k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items()
                    if k.startswith(prefix)}  # fmt: skip
        model.backbone.load_state_dict(backbone)
        return
    expected = {key: cfg[key] for key in ("backbone", "output_stride", "head")}
    expected["class_names"] = list(class_names)
    found = {key: meta.get(key) for key in expected}
    if meta.get("kind") != "segmentation" or found != expected:
        raise ConfigError(
            f"cannot start from {path} (config key `init`): it has {found}, this network {expected}"
        )
    model.load_state_dict(checkpoint["state_dict"])
