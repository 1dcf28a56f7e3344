"""Dense prediction with a trained segmentation network: multi-scale + flip probabilities (label
maps, with the optional CRF: :mod:`pixelnoise.prediction`), and the clean model's
log-probabilities with its backbone features (loss maps, graph features).

>>> import numpy as np, torch
>>> from pixelnoise.models.deeplab import SegmentationNet
>>> model = SegmentationNet("resnet_tiny", 3).eval()
>>> meta = {"mean": [0.5] * 3, "std": [0.25] * 3}
>>> probs = predict_probabilities(model, np.zeros((40, 48, 3), np.uint8), meta, scales=(1.0, 0.5))
>>> probs.shape, bool(np.allclose(probs.sum(0), 1, atol=1e-5))
((3, 40, 48), True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from pixelnoise.data.transforms import resize_image, to_tensor
from pixelnoise.threads import single_thread


@torch.backends.mkldnn.flags(enabled=False)  # the same bits with any thread count (see threads)
@torch.no_grad()
def log_probs_and_features(
    model, image: np.ndarray, meta: dict, device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities (C x H x W) and backbone features (D x h x w) of one image."""
    batch = to_tensor(image, meta["mean"], meta["std"])[None].to(device)
    logits, features = model.strided_logits_with_features(batch)
    with single_thread():
        logits = F.interpolate(logits, size=image.shape[:2], mode="bilinear", align_corners=False)
        return F.log_softmax(logits[0], dim=0).cpu(), features[0].cpu()


@torch.no_grad()
def predict_probabilities(
    model,
    image: np.ndarray,
    meta: dict,
    *,
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Class probabilities (C x H x W) of one HxWx3 image, averaged over scales and mirrors."""
    height, width = image.shape[:2]
    total = None
    for scale in scales:
        h, w = max(1, round(height * scale)), max(1, round(width * scale))
        batch = to_tensor(resize_image(image, h, w), meta["mean"], meta["std"])[None].to(device)
        if flip:
            batch = torch.cat([batch, batch.flip(-1)])
        logits = model.strided_logits_with_features(batch)[0]
        if flip:
            logits = torch.stack([logits[0], logits[1].flip(-1)])
        with single_thread():
            logits = F.interpolate(logits, (height, width), mode="bilinear", align_corners=False)
            probs = F.softmax(logits, dim=1).mean(0)
            total = probs if total is None else total + probs
    return (total / len(scales)).cpu().numpy()
