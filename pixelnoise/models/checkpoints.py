"""Checkpoints that rebuild their model without a config: weights plus ``meta``.

``meta["kind"]`` says which model a file holds (``classifier`` or ``segmentation``); the
loaders check it, so a classifier given where a segmentation network is expected fails with a
message naming the file instead of a ``KeyError`` deep inside ``load_state_dict``.

>>> import tempfile, torch
>>> net = SegmentationNet("resnet_tiny", 3)
>>> meta = segmentation_meta({"backbone": "resnet_tiny", "output_stride": 8, "head": "aspp"},
...                          ["a", "b", "c"], background=0)
>>> path = tempfile.mkdtemp() + "/net.pt"
>>> save_checkpoint(path, net, meta)
>>> model, loaded = load_segmentation(path)
>>> loaded["class_names"], model.training
(['a', 'b', 'c'], False)
"""

from __future__ import annotations

import io
import os

import torch

from pixelnoise.atomic import atomic_path
from pixelnoise.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from pixelnoise.errors import PixelnoiseError
from pixelnoise.models.classifier import CamClassifier
from pixelnoise.models.deeplab import SegmentationNet


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, meta: dict) -> None:
    """Save weights with everything needed to rebuild the model (``meta``), atomically."""
    buffer = io.BytesIO()
    torch.save({"meta": meta, "state_dict": model.state_dict()}, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def load_checkpoint(path: str | os.PathLike, kind: str | None = None) -> dict:
    """The checkpoint's dict; ``kind`` (``classifier`` | ``segmentation``) is checked if given."""
    if not os.path.isfile(path):
        raise PixelnoiseError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu")
    except Exception as error:  # pickle, zip and torch errors alike: name the file
        raise PixelnoiseError(f"{path} is not a readable checkpoint ({error})") from error
    if not isinstance(checkpoint, dict) or not {"meta", "state_dict"} <= set(checkpoint):
        raise PixelnoiseError(f"{path} is not a pixelnoise checkpoint (no meta/state_dict)")
    found = checkpoint["meta"].get("kind")
    if kind is not None and found != kind:
        raise PixelnoiseError(f"{path} holds a {found} checkpoint; expected a {kind} checkpoint")
    return checkpoint


def classifier_meta(cfg: dict, class_names, object_classes, background: int | None) -> dict:
    return {
        "kind": "classifier",
        "backbone": cfg["backbone"],
        "output_stride": cfg["output_stride"],
        "object_classes": list(object_classes),
        "class_names": list(class_names),
        "background": background,
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
    }


def segmentation_meta(cfg: dict, class_names, background: int | None) -> dict:
    """What a segmentation checkpoint carries so that it can be rebuilt without a config."""
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


def load_classifier(path: str | os.PathLike) -> tuple[CamClassifier, dict]:
    """Rebuild a trained classifier from its checkpoint alone."""
    checkpoint = load_checkpoint(path, "classifier")
    meta = checkpoint["meta"]
    model = CamClassifier(meta["backbone"], len(meta["object_classes"]), meta["output_stride"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), meta


def load_segmentation(path: str | os.PathLike) -> tuple[SegmentationNet, dict]:
    """Rebuild a segmentation network from its checkpoint alone (no config needed)."""
    checkpoint = load_checkpoint(path, "segmentation")
    meta = checkpoint["meta"]
    model = SegmentationNet(
        meta["backbone"], len(meta["class_names"]), meta["output_stride"], meta["head"]
    )
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), meta
