"""Stage: the clean model C, a segmentation network trained on D_c's ground truth only."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from pixelnoise.data.transforms import to_tensor
from pixelnoise.stages_common import RunData
from pixelnoise.threads import single_thread
from pixelnoise.train_segmentation import train_segmentation


def train_clean_model(
    *,
    manifest_path: str,
    dataset_cfg: dict,
    cfg: dict,
    checkpoint_path: str,
    log_path: str,
    seed: int = 0,
    device: str = "auto",
) -> list[dict]:
    run = RunData.load(dataset_cfg, manifest_path)
    return train_segmentation(
        ids=run.ids("strong"),
        read_image=run.dataset.read_image,
        read_labels=run.dataset.read_mask,  # strong images only: D_c's masks are allowed
        class_names=list(run.dataset.classes.names),
        background=run.background,
        cfg=cfg,
        checkpoint_path=checkpoint_path,
        log_path=log_path,
        seed=seed,
        device=device,
        description="clean model",
    )


@torch.backends.mkldnn.flags(enabled=False)  # the same bits with any thread count (see threads)
@torch.no_grad()
def predict(model, image: np.ndarray, meta: dict, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities (C x H x W) and backbone features (D x h x w) of one image."""
    batch = to_tensor(image, meta["mean"], meta["std"])[None].to(device)
    logits, features = model.strided_logits_with_features(batch)
    with single_thread():
        logits = F.interpolate(logits, size=image.shape[:2], mode="bilinear", align_corners=False)
        return F.log_softmax(logits[0], dim=0).cpu(), features[0].cpu()
