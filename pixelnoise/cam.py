"""Class Activation Maps: multi-scale + flip inference and normalisation (Fan et al. eq. 3).

The labels read off stored CAMs live in ``pixelnoise.cam_labels``, which needs no torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from pixelnoise.data.transforms import resize_image, to_tensor
from pixelnoise.threads import single_thread


def normalise_cams(cams: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """ReLU, then divide each class map by its own maximum (Fan et al. eq. 3)."""
    cams = F.relu(cams)
    peak = cams.flatten(-2).max(dim=-1).values[..., None, None]
    return cams / (peak + eps)


@torch.backends.mkldnn.flags(enabled=False)  # the same bits with any thread count (see threads)
@torch.no_grad()
def multiscale_cam(
    model,
    image: np.ndarray,
    channels: Sequence[int],
    *,
    scales: Sequence[float] = (1.0,),
    flip: bool = True,
    device: torch.device | str = "cpu",
    mean=None,
    std=None,
) -> np.ndarray:
    """CAMs of the classifier channels ``channels`` for one HxWx3 image, at image size.

    Each scale (and its mirror) is upsampled to the image size, rectified and summed, then
    every class is normalised by its maximum, so values lie in [0, 1].
    """
    height, width = image.shape[:2]
    norm = {k: v for k, v in (("mean", mean), ("std", std)) if v is not None}
    total = torch.zeros(len(channels), height, width, device=device)
    index = torch.as_tensor(list(channels), device=device, dtype=torch.long)
    for scale in scales:
        h, w = max(1, round(height * scale)), max(1, round(width * scale))
        batch = to_tensor(resize_image(image, h, w), **norm)[None].to(device)
        if flip:
            batch = torch.cat([batch, batch.flip(-1)])
        cams = model.cam(batch)[:, index]
        if flip:
            cams = cams[:1] + cams[1:].flip(-1)
        with single_thread():
            cams = F.interpolate(cams, size=(height, width), mode="bilinear", align_corners=False)
            total += F.relu(cams[0])
    return normalise_cams(total).cpu().numpy()
