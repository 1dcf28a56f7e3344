"""Class Activation Maps: multi-scale + flip inference, normalisation, CAM labels.

>>> import numpy as np
>>> cams = np.array([[[0.9, 0.01]], [[0.2, 0.03]]], np.float32)   # 2 classes, 1x2 image
>>> cam_labels(cams, classes=[3, 5], low_label=0, tau=0.05).tolist()
[[3, 0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from pixelnoise.data.transforms import VOID, resize_image, to_tensor
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


def cam_labels(cams: np.ndarray, classes: Sequence[int], low_label: int, tau: float) -> np.ndarray:
    """Label each pixel with its strongest present class (Yi et al. Sec. III-A).

    Pixels whose strongest activation is below ``tau`` get ``low_label``: the background class
    where the dataset has one, otherwise void (255) — a dataset without background has no
    class to fall back on.
    """
    classes = np.asarray(classes, dtype=np.uint8)
    labels = classes[cams.argmax(axis=0)]
    labels[cams.max(axis=0) < tau] = low_label
    return labels


def cam_label_map(
    cams: np.ndarray, classes: Sequence[int], background: int | None, tau_bg: float
) -> np.ndarray:
    """The CAM pseudo label of every pixel, as the ``cam`` method defines it.

    With a background class, pixels below ``tau_bg`` are background; without one, every pixel
    takes its strongest present class (there is nothing to fall back on).
    """
    if background is None:
        return cam_labels(cams, classes, VOID, 0.0)
    return cam_labels(cams, classes, background, tau_bg)


def cam_seeds(
    cams: np.ndarray, classes: Sequence[int], background: int | None, fg: float, bg: float
) -> np.ndarray:
    """Confident CAM seeds: foreground where the top CAM >= ``fg``, background where it is
    below ``bg`` (only with a background class), void elsewhere (Yi et al. Table V)."""
    labels = cam_labels(cams, classes, VOID, fg)
    if background is not None:
        labels[cams.max(axis=0) < bg] = background
    return labels
