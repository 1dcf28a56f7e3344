"""Stage: per-pixel loss of the CAM labels under the clean model (Yi et al. eq. 2), to Zarr."""

from __future__ import annotations

import torch
from tqdm import tqdm

from pixelnoise.arraystore import ArrayReader, ArrayWriter
from pixelnoise.atomic import atomic_path
from pixelnoise.device import resolve_device
from pixelnoise.inference import log_probs_and_features
from pixelnoise.losses import pixel_losses
from pixelnoise.models.checkpoints import load_segmentation
from pixelnoise.run_data import RunData


def score_pixels(
    *,
    manifest_path: str,
    dataset_cfg: dict,
    cam_paths: list[str],
    checkpoint_path: str,
    tau_bg: float,
    out_path: str,
    shard: int = 0,
    shards: int = 1,
    device: str = "auto",
) -> int:
    """Loss maps (H x W float16, NaN where the CAM label is void) of strong and weak images."""
    dev = resolve_device(device)
    run = RunData.load(dataset_cfg, manifest_path)
    cams = ArrayReader(cam_paths)
    model, meta = load_segmentation(checkpoint_path)
    model.to(dev)
    ids = run.ids("strong", "weak", shard=shard, shards=shards)
    with atomic_path(out_path, directory=True) as tmp:
        writer = ArrayWriter(tmp, {"tau_bg": tau_bg, "shard": shard, "shards": shards})
        for image_id in tqdm(ids, desc=f"loss maps shard {shard}", mininterval=5):
            log_probs, _ = log_probs_and_features(
                model, run.dataset.read_image(image_id), meta, dev
            )
            labels = torch.from_numpy(run.cam_labels(cams, image_id, tau_bg).astype("int64"))
            losses = pixel_losses(log_probs[None], labels[None])[0]
            writer.write(image_id, losses.numpy())
    return len(ids)
