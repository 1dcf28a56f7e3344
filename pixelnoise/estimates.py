"""Fan et al.'s pseudo-label estimates (Sec. 4.2-4.4): from one normalised CAM (one classifier,
one scale), a *threshold* estimate and a *CRF* estimate, each an ordinary pseudo-label method.

- ``T``: foreground where the strongest CAM exceeds ``t_fg``; background (where the dataset
  has that class) where it stays below ``t_bg`` - a low-CAM rule standing in for the paper's
  saliency < 0.06, which we do not have; everything else void.
- ``C``: a background plane of constant score ``crf_background`` (again in place of saliency)
  stacked on the CAMs, refined by the dense CRF, argmax: every pixel labelled.

NumPy and the CRF only (no torch), like the other label methods.

>>> cams = np.array([[[0.9, 0.3, 0.02]], [[0.1, 0.6, 0.01]]], np.float32)   # 2 classes, 1 x 3
>>> threshold_estimate(cams, [4, 7], background=0, t_fg=0.1, t_bg=0.05).tolist()
[[4, 7, 0]]
>>> threshold_estimate(cams, [4, 7], background=None, t_fg=0.1, t_bg=0.05).tolist()
[[4, 7, 255]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from pixelnoise.arraystore import ArrayReader
from pixelnoise.cam_labels import cam_seeds
from pixelnoise.crf import dense_crf


def threshold_estimate(
    cams: np.ndarray, classes: Sequence[int], background: int | None, t_fg: float, t_bg: float
) -> np.ndarray:
    """The T estimate: confident CAM pixels only (the same rule as the ``camseeds`` source)."""
    return cam_seeds(cams, classes, background, t_fg, t_bg)


def crf_estimate(
    image: np.ndarray,
    cams: np.ndarray,
    classes: Sequence[int],
    background: int | None,
    crf_background: float,
    crf: dict,
) -> np.ndarray:
    """The C estimate: the CRF's argmax over [background plane,] CAMs; every pixel labelled."""
    classes = np.asarray(classes, dtype=np.int64)
    planes, labels = np.asarray(cams, np.float32), classes
    if background is not None:
        plane = np.full((1, *planes.shape[1:]), crf_background, np.float32)
        planes, labels = np.concatenate([plane, planes]), np.concatenate([[background], classes])
    if len(labels) == 1:
        return np.full(planes.shape[1:], labels[0], np.uint8)
    return labels[dense_crf(image, planes, **crf).argmax(axis=0)].astype(np.uint8)


def labeller(method, inputs) -> Callable[[str], tuple[np.ndarray, bool]]:
    """An estimate (registry ``options``: ``kind`` "threshold" or "crf", ``cams`` the CAM
    artifact of one classifier at one scale), with the config's ``fan`` settings."""
    settings = inputs.params["settings"]
    cams = ArrayReader(inputs.paths(method.options["cams"]))
    background = inputs.run.background

    def label(image_id: str) -> tuple[np.ndarray, bool]:
        values, classes = cams.cams(image_id)
        if method.options["kind"] == "threshold":
            return threshold_estimate(
                values, classes, background, settings["t_fg"], settings["t_bg"]
            ), False
        image = inputs.run.dataset.read_image(image_id)
        return crf_estimate(
            image, values, classes, background, settings["crf_background"], inputs.params["crf"]
        ), False

    return label
