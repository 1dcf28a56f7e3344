"""Labels read off stored CAMs: the ``cam`` pseudo labels and confident CAM seeds.

NumPy only, so that the label stages start without importing torch.

>>> import numpy as np
>>> cams = np.array([[[0.9, 0.01]], [[0.2, 0.03]]], np.float32)   # 2 classes, 1x2 image
>>> cam_labels(cams, classes=[3, 5], low_label=0, tau=0.05).tolist()
[[3, 0]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from pixelnoise.metrics import VOID


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


def labeller(method, inputs) -> Callable[[str], tuple[np.ndarray, bool]]:
    """The ``cam`` method (registry): each weak image's CAM labels, never a fallback."""
    return lambda image_id: (inputs.cam_labels(image_id), False)
