"""Stage: CAMs of the present classes for one shard of the train images, written to Zarr."""

from __future__ import annotations

import logging

from tqdm import tqdm

from pixelnoise.arraystore import ArrayWriter
from pixelnoise.atomic import atomic_path
from pixelnoise.cam import multiscale_cam
from pixelnoise.data.manifest import ids_with_role, read_manifest
from pixelnoise.data.voc import VocDataset
from pixelnoise.device import resolve_device
from pixelnoise.models.checkpoints import load_classifier
from pixelnoise.shards import shard_ids

log = logging.getLogger(__name__)


def export_cams(
    *,
    manifest_path: str,
    dataset_cfg: dict,
    checkpoint_path: str,
    cfg: dict,
    out_path: str,
    shard: int = 0,
    shards: int = 1,
    device: str = "auto",
) -> int:
    """Write the CAMs of shard ``shard`` of ``shards``; returns the number of images."""
    dev = resolve_device(device)
    dataset = VocDataset.from_config(dataset_cfg)
    manifest = read_manifest(manifest_path)
    ids = shard_ids(ids_with_role(manifest, "strong", "weak"), shard, shards)
    labels = dict(zip(manifest["image_id"], manifest["labels"], strict=True))
    model, meta = load_classifier(checkpoint_path)
    model.to(dev)
    channel_of = {c: i for i, c in enumerate(meta["object_classes"])}
    attrs = {"scales": list(cfg["scales"]), "flip": bool(cfg["flip"]), "shard": shard}
    with atomic_path(out_path, directory=True) as tmp:
        writer = ArrayWriter(tmp, {**attrs, "shards": shards, "class_names": meta["class_names"]})
        for image_id in tqdm(ids, desc=f"CAMs shard {shard}", mininterval=5):
            classes = list(labels[image_id])
            cams = multiscale_cam(
                model,
                dataset.read_image(image_id),
                [channel_of[c] for c in classes],
                scales=cfg["scales"],
                flip=cfg["flip"],
                device=dev,
                mean=meta["mean"],
                std=meta["std"],
            )
            writer.write(image_id, cams, classes=[int(c) for c in classes], scales=attrs["scales"])
    log.info("wrote CAMs of %d images to %s", len(ids), out_path)
    return len(ids)
